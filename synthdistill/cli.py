"""The `synthdistill` command: parse arguments, call the API, print. Nothing else lives here."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from synthdistill.errors import ConfigError, SynthdistillError

if TYPE_CHECKING:
    from synthdistill.config import Config
    from synthdistill.teachers import TeacherStats


def _at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], so `--workers 0` is one line, not a silent default."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{value} is out of range: give {bounds}")
        return value

    return parse


POSITIVE, PORT = _at_least(1), _at_least(0, 65535)  # port 0: any free port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthdistill",
        description="Distil a multilingual LLM teacher into small classifiers through synthetic data.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def staged(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("config", type=Path, help="YAML config")
        command.add_argument("--out", type=Path, required=True, help="output folder (re-use it to resume)")
        command.add_argument("--no-progress", action="store_true", help="no progress bars")
        return command

    run = staged("run", "generate, train, classify with the teacher, evaluate and report")
    run.add_argument("--repeats", type=POSITIVE, default=1,
                     help="repeat the whole job with generation seeds seed..seed+K-1 (in OUT/repeat-K/) and report "
                          "mean ± sd and the 95%% interval of the mean over the runs (repeats.md)")  # fmt: skip
    generate = staged("generate", "write synthetic.jsonl with the teacher")
    generate.add_argument("--export", type=Path, help="also write the samples here: .jsonl, .csv or .parquet, or a "
                          "path without extension for a Hugging Face datasets folder (save_to_disk)")  # fmt: skip
    generate.add_argument("--executor", choices=["inline", "ray"], default="inline",
                          help="ray: one shard per language on a Ray cluster (--address) or a local Ray")  # fmt: skip
    generate.add_argument("--address", help="Ray cluster address, e.g. auto or ray://head:10001")
    generate.add_argument("--workers", type=POSITIVE, help="CPUs of a local Ray (default: all)")
    train = staged("train", "train the students on synthetic.jsonl (and human seed data when asked)")
    train.add_argument("--data", type=Path, help="synthetic data file (default: OUT/synthetic.jsonl)")
    export = staged("export", "write the synthetic samples as reviewed (review.jsonl), with id and reviewed columns")
    export.add_argument("--output", type=Path, required=True, help="a .jsonl, .csv or .parquet file, or a path "
                        "without extension for a Hugging Face datasets folder (save_to_disk)")  # fmt: skip
    staged("classify", "score the teacher itself as a zero-/k-shot classifier on the test data")
    staged("evaluate", "score the trained students beside the teacher; write results.json and report.md")

    predict = commands.add_parser("predict", help="label new texts with a saved student")
    predict.add_argument("student", type=Path, help="a saved student's folder, e.g. OUT/students/tfidf-synthetic/sw")
    predict.add_argument("--text", action="append", default=[], help="a text to label (repeatable)")
    predict.add_argument("--input", type=Path, help="JSONL/CSV/Parquet file with a text column")
    predict.add_argument("--text-column", default="text")
    predict.add_argument("--output", type=Path, help="write JSONL here instead of standard output")

    def executor_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--out", type=Path, required=True, help="output folder (re-use it to resume)")
        command.add_argument("--executor", choices=["local", "ray", "inline"], default="local",
                             help="local: a process pool; ray: a Ray cluster (--address) or a local Ray")  # fmt: skip
        command.add_argument("--workers", type=POSITIVE, help="processes (local) or CPUs of a local Ray (default: all)")
        command.add_argument("--address", help="Ray cluster address, e.g. auto or ray://head:10001")
        command.add_argument("--no-progress", action="store_true", help="no progress bars")
        command.add_argument(
            "--report-only", action="store_true", help="run no cell: report the stored ones (the teacher line runs)"
        )

    experiment = commands.add_parser(
        "experiment", help="run a grid: tasks x languages x N x students x sources x repeats, then report",
        description="Run an experiment grid; finished cells are stored and skipped on re-runs.",
    )  # fmt: skip
    experiment.add_argument("config", type=Path, help="experiment YAML")
    executor_options(experiment)
    reproduce = commands.add_parser(
        "reproduce", help="the paper's design on its released data (students on synthetic vs human data)",
        description="Reproduce 'Better as Generators Than Classifiers' on its released data.",
    )  # fmt: skip
    reproduce.add_argument("--data", type=Path, required=True, help="the paper's data: <task>/<lang>/*.jsonl")
    reproduce.add_argument("--quick", action="store_true", help="2 sizes and 3 repeats instead of 5 and 20")
    reproduce.add_argument("--tasks", nargs="+", help="default: every task with complete data")
    reproduce.add_argument("--languages", nargs="+", help="default: the paper's 11")
    reproduce.add_argument("--students", nargs="+", default=["tfidf", "embed"], help="default: tfidf embed")
    reproduce.add_argument("--repeats", type=POSITIVE, help="override the repeat count")
    reproduce.add_argument("--sources", nargs="+", default=["synthetic", "human"],
                           help="default: synthetic human; also mixed, pivot:LANG, synthetic+pivot:LANG")  # fmt: skip
    reproduce.add_argument("--per-class", nargs="+", type=POSITIVE, help="samples per class (default: the paper's)")
    reproduce.add_argument("--teacher-results", type=Path, help="the teacher's scores (JSON rows with task, "
                           "language, macro_f1); default: run the embedded teacher here")  # fmt: skip
    executor_options(reproduce)
    serve = commands.add_parser("serve", help="an HTTP API for a saved student (POST /predict)")
    serve.add_argument("student", type=Path, help="a saved student's folder")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serve.add_argument("--port", type=PORT, default=8000)
    serve.add_argument("--api-key-env", help="require the key held in this environment variable")
    serve.add_argument("--max-batch", type=POSITIVE, default=64, help="most texts per request")
    serve.add_argument("--max-body-bytes", type=POSITIVE, default=1_000_000)
    serve.add_argument("--workers", type=POSITIVE, default=2, help="predictions of long requests at once (default: 2)")
    serve.add_argument("--pool", choices=["process", "thread"], default="process",
                       help="where long requests run (thread: for students that release the GIL)")  # fmt: skip
    serve.add_argument("--max-queue", type=int, default=8,
                       help="long requests waiting for a worker before the answer is 503 (default: 8)")  # fmt: skip
    serve.add_argument("--read-timeout-s", type=float, default=10.0,
                       help="seconds a client has to send its headers, and again its body (default: 10)")  # fmt: skip
    review = commands.add_parser("review", help="a local page to look at a run's samples and keep, drop, relabel or "
                                 "edit them (review.jsonl, which train, evaluate, run and export honour)")  # fmt: skip
    review.add_argument("out", type=Path, help="a run's output folder (with config.yaml and synthetic.jsonl)")
    review.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    review.add_argument("--port", type=PORT, default=8100)
    review.add_argument("--api-key-env", help="require the key held in this environment variable (the browser "
                        "asks for it as a password)")  # fmt: skip
    review.add_argument("--reviewer", help="the name written with each decision (default: the system user)")
    return parser


def _print_stats(stats: TeacherStats, config: Config) -> None:
    from synthdistill.teachers import estimated_cost

    tokens = stats.prompt_tokens + stats.completion_tokens
    print(f"teacher requests: {stats.sent} sent, {stats.cached} from cache ({tokens} tokens sent and received)")
    cost = estimated_cost(config.teacher, stats.prompt_tokens, stats.completion_tokens)
    if cost is not None:
        print(f"estimated cost of this run's requests: {cost:.4f}")
    if stats.not_sent:
        print(f"warning: teacher budget spent, {stats.not_sent} requests not sent: the dataset is incomplete")


def _dispatch(args: argparse.Namespace) -> None:
    from synthdistill import pipeline
    from synthdistill.config import load_config

    if args.command == "serve":
        from synthdistill.serve import serve

        serve(args.student, host=args.host, port=args.port, api_key_env=args.api_key_env,
              max_batch=args.max_batch, max_body_bytes=args.max_body_bytes, workers=args.workers, pool=args.pool,
              max_queue=args.max_queue, read_timeout_s=args.read_timeout_s)  # fmt: skip
        return
    if args.command == "review":
        from synthdistill.review_server import review

        review(args.out, host=args.host, port=args.port, api_key_env=args.api_key_env, reviewer=args.reviewer)
        return
    if args.command == "predict":
        from synthdistill.data import check_output_file, read_examples, write_jsonl

        if args.output is not None:
            check_output_file(args.output, "--output")
        texts = list(args.text)
        if args.input is not None:
            texts += [e.text for e in read_examples(args.input, text_column=args.text_column, label_column=None)]
        if not texts:
            raise SynthdistillError("predict: give --text or --input")
        rows = pipeline.predict(args.student, texts)
        if args.output is not None:
            write_jsonl(args.output, rows)
            print(f"{len(rows)} predictions written to {args.output}")
        else:
            for row in rows:
                print(json.dumps(row, ensure_ascii=False))
        return

    from synthdistill.data import check_export_path, check_output_folder
    from synthdistill.folder_lock import holding

    check_output_folder(args.out, "--out")  # before any work: a file given as --out is one line, not a traceback
    if args.command in ("experiment", "reproduce"):
        _experiment(args)
        return
    config = load_config(args.config)
    progress = not args.no_progress
    if getattr(args, "export", None) is not None:
        check_export_path(args.export, "--export")
    if args.command == "export":
        check_export_path(args.output, "--output")
    with holding(args.out, args.command):
        _write_command(args, config, progress)


def _write_command(args: argparse.Namespace, config: Config, progress: bool) -> None:
    """A command that writes an output folder (--out), which it holds meanwhile (folder_lock.py)."""
    from synthdistill import pipeline

    if args.command == "run" and args.repeats != 1:
        if args.repeats < 1:
            raise ConfigError(f"--repeats must be at least 1, not {args.repeats}")
        repeated = pipeline.run_repeated(config, args.out, args.repeats, progress=progress)
        print(repeated.report)
        from synthdistill.teachers.teacher import TeacherStats as Stats

        _print_stats(sum((r.stats for r in repeated.runs), Stats()), config)
        print(f"runs: {args.out}/repeat-1 .. repeat-{args.repeats}; summary: {args.out / 'repeats.md'}")
    elif args.command == "run":
        summary = pipeline.run(config, args.out, progress=progress)
        print(summary.report)
        print(f"synthetic samples kept: {summary.n_synthetic}, dropped: {summary.n_dropped}")
        _print_stats(summary.stats, config)
        print(f"results: {args.out / 'results.json'}, report: {args.out / 'report.md'}")
    elif args.command == "generate":
        if args.executor == "ray":
            from synthdistill.experiments.executors import RayExecutor
            from synthdistill.experiments.sharding import generate_sharded

            executor = RayExecutor(args.address, num_cpus=args.workers)
            samples, dropped, stats = generate_sharded(config, args.out, executor)
        else:
            with pipeline.opened_teacher(config, pipeline.output_folder(args.out), progress=progress) as teacher:
                samples, dropped = pipeline.generate(config, args.out, teacher)
                stats = teacher.stats
        if args.export is not None:
            pipeline.write_export(config, args.out, args.export, samples)
        print(f"{len(samples)} synthetic samples in {args.out / pipeline.SYNTHETIC_FILE}; {len(dropped)} dropped")
        _print_stats(stats, config)
    elif args.command == "train":
        synthetic = pipeline.read_synthetic(config, args.data) if args.data else None
        for entry in pipeline.train(config, args.out, synthetic):
            where = args.out / entry["path"]
            print(
                f"{entry['classifier']} on {entry['train_source']} ({entry['language']}, n={entry['n_train']}): {where}"
            )
    elif args.command == "export":
        written, reviewed = pipeline.export_reviewed(config, args.out, args.output)
        print(f"{written} samples in {args.output}, {reviewed} of them reviewed by a person")
    elif args.command == "classify":
        with pipeline.opened_teacher(config, pipeline.output_folder(args.out), progress=progress) as teacher:
            for record in pipeline.classify(config, args.out, teacher):
                print(
                    f"{record.language} {record.classifier}: macro-F1 {record.macro_f1:.3f}, "
                    f"accuracy {record.accuracy:.3f}, invalid {record.invalid_rate:.1%}"
                )
            _print_stats(teacher.stats, config)
    elif args.command == "evaluate":
        _, report = pipeline.evaluate(config, args.out)
        print(report)


def _experiment(args: argparse.Namespace) -> None:
    from synthdistill.experiments.executors import make_executor
    from synthdistill.experiments.runner import run_experiment
    from synthdistill.folder_lock import holding

    if args.command == "experiment":
        from synthdistill.experiments.config import load_experiment_config

        experiment = load_experiment_config(args.config)
    else:
        from synthdistill.experiments.reproduction import paper_experiment

        experiment = paper_experiment(
            args.data, quick=args.quick, tasks=args.tasks, languages=args.languages, students=args.students,
            repeats=args.repeats, teacher_results=args.teacher_results, sources=args.sources,
            per_class=args.per_class,
        )  # fmt: skip
    executor = make_executor(args.executor, workers=args.workers, address=args.address)
    with holding(args.out, args.command):
        summary = run_experiment(
            experiment, args.out, executor=executor, progress=not args.no_progress, report_only=args.report_only
        )
    print(f"cells: {summary.ran} run now ({executor.name} executor), {summary.skipped} from the store"
          + (f", {summary.missing} not run yet (left out of this report)" if summary.missing else ""))  # fmt: skip
    print(f"teacher line: {summary.teacher_origin}")
    for c in summary.crossovers:
        if c.language in experiment.languages:
            continue
        verdict = "at no N of the grid" if c.n is None else f"from N = {c.n}"
        mean = "at no N" if c.n_mean is None else f"from N = {c.n_mean}"
        print(f"{c.task} {c.language}: {c.student} on {c.source} is better than the teacher ({c.teacher:.3f}) at 95% "
              f"{verdict} (its mean is above it {mean})")  # fmt: skip
    print("report: " + ", ".join(str(path) for path in summary.files.values()))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed its usage line or --help: the code, as for any error
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        _dispatch(args)
    except SynthdistillError as err:
        print(f"synthdistill: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("synthdistill: interrupted; answered requests are cached, run again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
