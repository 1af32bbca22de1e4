"""Does contextual calibration help the icl student with random examples, beyond English? The embedded teacher
(Gemma 3 270M) with 2 examples per label drawn from 10 per class of the paper's topic pools (its synthetic data
and its human data), scored on each language's SIB-200 dev split (99 sentences, never the test split), with and
without calibration (the same prompts; calibration adds 3 content-free prompts after the same examples), over
3 seeds of the draw; beside the embedded teacher's own zero-shot line, calibrated, on the same sentences.

Run: python bench/icl_calibration.py [--languages en sw te cy] [--seeds 1337 1338 1339]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_output

SHARED = HERE.parent.parent / "shared" / "data"
SIB200 = {"en": "eng_Latn", "sw": "swh_Latn", "te": "tel_Telu", "cy": "cym_Latn"}
WORDING = {"domain": "sentences from Wikipedia-style articles, news and travel guides", "text_kind": "sentence",
           "label_kind": "topic"}  # fmt: skip
PER_CLASS = 10


def language_task(labels: list[str], language: str) -> Any:
    from synthdistill.experiments.config import ExperimentTaskSpec
    from synthdistill.experiments.planning import task_spec

    return task_spec(ExperimentTaskSpec(name="topic", labels=labels, test="-", **WORDING), [language])


def topic_labels() -> list[str]:
    from synthdistill.data import read_json_file

    return read_json_file(SHARED / "paper" / "topic" / "labels.json", "label")


def dev_split(labels: list[str], language: str) -> list[Any]:
    """The language's SIB-200 dev split: 99 human sentences, disjoint from the paper's pools and test split."""
    from synthdistill.data import read_examples

    return read_examples(SHARED / "sib200" / SIB200[language] / "dev.jsonl", labels)


def training_draw(labels: list[str], language: str, source: str, seed: int, per_class: int = PER_CLASS) -> list[Any]:
    """`per_class` examples of each label from the paper's synthetic or human topic pool, as a grid cell draws."""
    from synthdistill.data import read_examples, sample_per_label

    file = "synthetic.jsonl" if source == "synthetic" else "train.jsonl"
    pool = [e for e in read_examples(SHARED / "paper" / "topic" / language / file, labels) if e.language in
            (None, language)]  # fmt: skip
    drawn = sample_per_label(pool, per_class, seed)
    return [e for label in labels for e in drawn.get(label, [])]


def icl_scores(labels: list[str], language: str, source: str, seed: int, dev: list[Any]) -> dict[bool, float]:
    """Dev macro-F1 without and with calibration; one cache, so the calibrated run re-asks nothing."""
    from synthdistill.config import EmbeddedTeacherSpec, IclStudentSpec
    from synthdistill.evaluation.scores import classification_scores
    from synthdistill.students.icl import InContextStudent

    train = training_draw(labels, language, source, seed)
    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        for calibration in (False, True):
            spec = IclStudentSpec(selection="random", calibration=calibration)
            student = InContextStudent(language_task(labels, language), EmbeddedTeacherSpec(), language, spec,
                                       seed=seed, cache_dir=tmp)  # fmt: skip
            student.fit([e.text for e in train], [e.label for e in train])
            predicted = student.predict([e.text for e in dev])
            scores[calibration] = classification_scores([e.label for e in dev], predicted, labels)["macro_f1"]
    return scores


def teacher_line(labels: list[str], language: str, dev: list[Any]) -> float:
    from synthdistill.config import EmbeddedTeacherSpec
    from synthdistill.evaluation.scores import classification_scores
    from synthdistill.evaluation.teacher_classifier import calibrate, classify_with_teacher, content_free_baseline
    from synthdistill.teachers import open_teacher

    spec, task = EmbeddedTeacherSpec(), language_task(labels, language)
    with tempfile.TemporaryDirectory() as tmp:
        teacher = open_teacher(spec, Path(tmp) / "cache.sqlite", progress=False)
        try:
            raw = classify_with_teacher(task, spec.prompt_mode, teacher, language, [e.text for e in dev])
            baseline = content_free_baseline(task, spec.prompt_mode, teacher, language, [], "label_name")
        finally:
            teacher.close()
    predicted = [calibrate(p, baseline).label for p in raw]
    return classification_scores([e.label for e in dev], predicted, labels)["macro_f1"]


def spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", nargs="+", default=list(SIB200))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1337, 1338, 1339])
    args = parser.parse_args()

    labels = topic_labels()
    started = time.perf_counter()
    lines = [
        "# icl with random examples, with and without contextual calibration",
        "",
        f"Machine: {bench_output.machine()}. Command: `python bench/icl_calibration.py`. Dev macro-F1 on SIB-200 dev "
        f"(99 sentences a language); icl: 2 examples per label drawn from {PER_CLASS} per class of the paper's pool, "
        f"mean ± sd over seeds {', '.join(map(str, args.seeds))}; teacher: the embedded teacher zero-shot, calibrated.",
        "",
        "| language | source | icl random | icl random, calibrated | teacher zero-shot, calibrated |",
        "|---|---|---:|---:|---:|",
    ]
    for language in args.languages:
        dev = dev_split(labels, language)
        line = teacher_line(labels, language, dev)
        for source in ("synthetic", "human"):
            runs = [icl_scores(labels, language, source, seed, dev) for seed in args.seeds]
            raw, calibrated = [r[False] for r in runs], [r[True] for r in runs]
            lines.append(f"| {language} | {source} | {spread(raw)} | {spread(calibrated)} | {line:.3f} |")
            print(lines[-1], flush=True)
    lines += ["", f"Wall time: {time.perf_counter() - started:.0f} s (other jobs shared the cores)."]
    bench_output.write_markdown("icl_calibration", lines)


if __name__ == "__main__":
    main()
