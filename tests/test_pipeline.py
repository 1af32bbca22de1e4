"""The API stages on the fake teacher: the teacher's settings, selection on dev, and the report."""

import json

import yaml

from synthdistill import load_config
from synthdistill.evaluation.teacher_settings import BEST_TEACHER
from synthdistill.pipeline import classify, evaluate
from synthdistill.teachers.teacher import Teacher
from tests.conftest import POLITICS, SPORTS, FakeBackend, topic_answer, write_jsonl


def test_teacher_settings_and_the_best_one_chosen_on_dev(tiny_project, fake_backend):
    dev = [{"text": SPORTS[0], "label": "sports"}, {"text": POLITICS[0], "label": "politics"}]
    write_jsonl(tiny_project / "data/en/dev.jsonl", dev)
    raw = yaml.safe_load((tiny_project / "config.yaml").read_text())
    raw["data"]["dev"] = "data/{lang}/dev.jsonl"
    raw["evaluation"] = {"teacher_shots": [0, 1], "teacher_prompts": ["label_name", "numbered"], "teacher_test": "all"}
    (tiny_project / "config.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tiny_project / "config.yaml")

    records = classify(config, tiny_project / "out", Teacher(fake_backend, progress=False))

    names = [r.classifier for r in records]
    expected = {f"teacher-{k}shot{p}{c}" for k in (0, 1) for p in ("", "-numbered") for c in ("", "-calibrated")}
    assert set(names) == expected | {BEST_TEACHER}
    settings = [r for r in records if r.classifier != BEST_TEACHER]
    assert all(r.dev_macro_f1 is not None and r.n_test == 6 for r in settings)
    [best] = [r for r in records if r.classifier == BEST_TEACHER]
    top_dev = max(r.dev_macro_f1 for r in settings)
    chosen = next(r for r in settings if r.classifier == best.setting)
    assert chosen.dev_macro_f1 == top_dev
    assert (best.macro_f1, best.accuracy) == (chosen.macro_f1, chosen.accuracy)  # its test scores, not the best test
    # ties go to fewer shots
    assert chosen.n_train == min(r.n_train for r in settings if r.dev_macro_f1 == top_dev)
    assert best.dev_settings == {r.classifier: round(r.dev_macro_f1, 4) for r in settings}

    _, report = evaluate(config, tiny_project / "out")
    assert f"{BEST_TEACHER} ({best.setting})" in report
    assert f"**{best.setting} {top_dev:.3f}**" in report  # every setting's dev score, the chosen one in bold
    saved = json.loads((tiny_project / "out/results.json").read_text())
    assert any(r["classifier"] == BEST_TEACHER and r["setting"] == best.setting for r in saved)

    # the default, teacher_test: best: the same choice, the same test scores, and only the chosen setting on test
    raw["evaluation"].pop("teacher_test")
    (tiny_project / "config.yaml").write_text(yaml.safe_dump(raw))
    backend = FakeBackend(topic_answer)
    [only] = classify(
        load_config(tiny_project / "config.yaml"), tiny_project / "best", Teacher(backend, progress=False)
    )
    assert only.classifier == BEST_TEACHER and only.setting == best.setting
    assert (only.macro_f1, only.macro_f1_ci, only.dev_settings) == (best.macro_f1, best.macro_f1_ci, best.dev_settings)
    assert len(backend.requests) < len(fake_backend.requests)
    rows = [json.loads(line) for line in (tiny_project / "best/teacher_predictions.jsonl").open()]
    assert len(rows) == 6 and {r["classifier"] for r in rows} == {best.setting}


def test_train_and_evaluate_every_offline_student_type(tiny_project):
    import pytest

    pytest.importorskip("transformers")
    from synthdistill.data import Example, write_examples
    from synthdistill.pipeline import train

    raw = yaml.safe_load((tiny_project / "config.yaml").read_text())
    raw["students"] = [
        {"type": "tfidf"},
        {"type": "embed", "encoder": "use-multilingual", "C": 10.0},
        {"type": "finetune", "backbone": "minilm", "epochs": 2, "learning_rate": 1e-4, "max_length": 32},
    ]
    (tiny_project / "config.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tiny_project / "config.yaml")
    synthetic = [Example(t, "sports", "en") for t in SPORTS] + [Example(t, "politics", "en") for t in POLITICS]
    write_examples(tiny_project / "out/synthetic.jsonl", synthetic)

    trained = train(config, tiny_project / "out")

    assert [(t["classifier"], t["n_train"]) for t in trained] == [("tfidf", 12), ("embed", 12), ("finetune", 12)]
    assert (tiny_project / "out/checkpoints/finetune-en/checkpoint.pt").is_file()
    records, _ = evaluate(config, tiny_project / "out")
    assert {r.classifier for r in records} == {"tfidf", "embed", "finetune"}
    assert all(r.n_test == 6 for r in records)
    # the wiring, not the learning (each student's own tests check that): these test texts were trained on
    assert all(r.macro_f1 == 1.0 for r in records if r.classifier in ("tfidf", "embed"))


def test_staged_outputs_replace_the_old_ones_only_on_success(tmp_path):
    import pytest

    from synthdistill.pipeline import staged_outputs

    (tmp_path / "students").mkdir()
    (tmp_path / "students/old.json").write_text("old")
    (tmp_path / "results.json").write_text("old")
    (tmp_path / "incomplete-run").write_text("a file where the staging folder goes")
    with pytest.raises(RuntimeError), staged_outputs(tmp_path, "incomplete-run") as staging:
        (staging / "results.json").write_text("new")
        raise RuntimeError("the run failed")
    assert (tmp_path / "results.json").read_text() == "old"
    assert (tmp_path / "incomplete-run/results.json").read_text() == "new"  # kept to look at

    with staged_outputs(tmp_path, "incomplete-run") as staging:
        assert not (staging / "results.json").exists()  # a new attempt starts afresh
        (staging / "results.json").write_text("newer")
        (staging / "students").mkdir()
        (staging / "students/new.json").write_text("new")
    assert (tmp_path / "results.json").read_text() == "newer"
    assert [p.name for p in (tmp_path / "students").iterdir()] == ["new.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "students"]


def test_students_get_intervals_and_a_paired_verdict_against_the_teacher(tiny_project, fake_backend):
    from synthdistill.data import Example, read_examples, write_examples
    from synthdistill.evaluation.intervals import interval, language_resampling, resampled_scores, verdict
    from synthdistill.pipeline import train
    from synthdistill.students.registry import load_student

    config = load_config(tiny_project / "config.yaml")
    out = tiny_project / "out"
    classify(config, out, Teacher(fake_backend, progress=False))
    synthetic = [Example(t, "sports", "en") for t in SPORTS] + [Example(t, "politics", "en") for t in POLITICS]
    write_examples(out / "synthetic.jsonl", synthetic)
    train(config, out)

    records, report = evaluate(config, out)

    [student] = [r for r in records if r.classifier == "tfidf" and r.train_source == "synthetic"]
    [teacher] = [r for r in records if r.classifier == "teacher-0shot"]  # no dev split: the first setting
    test = read_examples(tiny_project / "data/en/test.jsonl", ["sports", "politics"])
    gold, labels = [e.label for e in test], config.task.label_names
    draws = language_resampling(len(test), seed=config.evaluation.seed, language="en")
    rows = [json.loads(line) for line in (out / "teacher_predictions.jsonl").read_text().splitlines()]
    teacher_scores = resampled_scores(gold, [r["predicted"] for r in rows if r["classifier"] == teacher.classifier],
                                      labels, draws)  # fmt: skip
    predicted = load_student(out / "students/tfidf-synthetic/en").predict([e.text for e in test])
    student_scores = resampled_scores(gold, predicted, labels, draws)
    expected = interval(student_scores["macro_f1"] - teacher_scores["macro_f1"])
    assert student.vs_teacher == {
        "teacher": "teacher-0shot",
        "difference": round(student.macro_f1 - teacher.macro_f1, 4),
        "ci": expected,
        "verdict": verdict(expected),
    }
    assert student.macro_f1_ci == interval(student_scores["macro_f1"])
    assert teacher.macro_f1_ci == interval(teacher_scores["macro_f1"])  # classify drew the same resamples
    assert teacher.macro_f1_ci[0] <= teacher.macro_f1 <= teacher.macro_f1_ci[1]
    assert "Students against teacher-0shot" in report and "| vs teacher [95% CI] |" in report
    saved = json.loads((out / "results.json").read_text())
    assert student.vs_teacher in [r["vs_teacher"] for r in saved if r["classifier"] == "tfidf"]


def test_a_damaged_teacher_predictions_file_is_one_clear_error(tiny_project, fake_backend):
    import pytest

    from synthdistill.errors import DataError

    config = load_config(tiny_project / "config.yaml")
    out = tiny_project / "out"
    classify(config, out, Teacher(fake_backend, progress=False))
    with open(out / "teacher_predictions.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"language": "en"\n')  # cut short
    with pytest.raises(DataError, match=r"teacher_predictions.jsonl: line \d+: not a teacher prediction"):
        evaluate(config, out)
