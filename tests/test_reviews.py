"""A person's decisions on synthetic samples: the append-only log, undo, a torn line, and training honouring them."""

import json
import warnings

import pytest
import yaml

from synthdistill import load_config
from synthdistill.data import Example, write_examples
from synthdistill.pipeline import evaluate, train
from synthdistill.reviews import (
    REVIEW_FILE,
    Decision,
    append_decision,
    apply_reviews,
    example_id,
    read_reviews,
    sample_id,
)
from tests.conftest import POLITICS, SPORTS

LABELS = ["sports", "politics"]
SAMPLES = [Example(t, "sports", "en", {"sample_index": i}) for i, t in enumerate(SPORTS)] + [
    Example(t, "politics", "en", {"sample_index": i}) for i, t in enumerate(POLITICS)
]


def test_ids_name_a_sample_by_what_it_is_not_where_it_is():
    moved = Example(SPORTS[0], "sports", "en", {"sample_index": 99, "round": 3})
    assert example_id(moved) == example_id(SAMPLES[0]) == sample_id("en", "sports", SPORTS[0])
    assert len({example_id(s) for s in SAMPLES}) == len(SAMPLES)
    assert sample_id("sw", "sports", SPORTS[0]) != sample_id("en", "sports", SPORTS[0])


def test_decisions_are_appended_and_the_later_one_wins_undo_takes_back_the_last(tmp_path):
    first, second = example_id(SAMPLES[0]), example_id(SAMPLES[6])
    append_decision(tmp_path, Decision(first, "drop", by="tab 1"), LABELS)
    append_decision(tmp_path, Decision(first, "keep", by="tab 2"), LABELS)  # two tabs: the later wins
    append_decision(tmp_path, Decision(second, "relabel", label="sports"), LABELS)
    append_decision(tmp_path, Decision(second, "edit", text="The senate voted on a new law for the stadium."), LABELS)
    append_decision(tmp_path, Decision(second, "undo"), LABELS)  # takes back the edit, not the relabel
    log = [json.loads(line) for line in (tmp_path / REVIEW_FILE).read_text().splitlines()]
    assert [row["action"] for row in log] == ["drop", "keep", "relabel", "edit", "undo"]  # everything on record
    assert all(row["at"] for row in log) and [row["by"] for row in log][:2] == ["tab 1", "tab 2"]
    reviews = read_reviews(tmp_path / REVIEW_FILE, LABELS)
    assert reviews.state(first).dropped is False
    assert (reviews.state(second).label, reviews.state(second).text) == ("sports", None)
    assert reviews.state(example_id(SAMPLES[1])) is None
    append_decision(tmp_path, Decision(second, "undo"), LABELS)
    assert read_reviews(tmp_path / REVIEW_FILE, LABELS).state(second) is None  # all taken back: as generated


@pytest.mark.parametrize(
    ("decision", "message"),
    [
        (Decision("abc", "relabel", label="weather"), "label 'weather' is not a label of the task"),
        (Decision("abc", "edit", text="  "), "an edit needs a text"),
        (Decision("abc", "shred"), "unknown action 'shred'"),  # type: ignore[arg-type]
        (Decision("", "drop"), "no sample id"),
    ],
)
def test_a_bad_decision_is_refused_and_nothing_is_written(tmp_path, decision, message):
    with pytest.raises(ValueError, match=message):
        append_decision(tmp_path, decision, LABELS)
    assert not (tmp_path / REVIEW_FILE).exists()


def test_a_torn_or_bad_line_is_reported_by_number_and_the_rest_kept(tmp_path):
    good = [Decision(example_id(SAMPLES[2]), "drop"), Decision(example_id(SAMPLES[3]), "relabel", label="politics")]
    lines = [json.dumps(good[0].to_dict()), '{"id": "x", "action": "relabel", "label": "weather"}', "[1, 2]",
             json.dumps(good[1].to_dict()), '{"id": "ab", "action": "edit", "text": 7}',
             '{"id": "ab", "action": "relabel", "label": ["sports"]}', '{"id": "ab", "act']  # fmt: skip
    (tmp_path / REVIEW_FILE).write_text("\n".join(lines) + "\n")
    reviews = read_reviews(tmp_path / REVIEW_FILE, LABELS)
    assert [p.split(": ")[1] for p in reviews.problems] == ["line 2", "line 3", "line 5", "line 6", "line 7"]
    assert "text must be a string" in reviews.problems[2] and "label must be a string" in reviews.problems[3]
    assert "not a label of the task" in reviews.problems[0] and "not a JSON object" in reviews.problems[1]
    assert reviews.state(example_id(SAMPLES[2])).dropped is True
    assert reviews.state(example_id(SAMPLES[3])).label == "politics"


def test_a_folder_or_non_utf8_log_is_a_clear_error(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / REVIEW_FILE).mkdir()
    with pytest.raises(Exception, match="expected the review log file, found a folder"):
        read_reviews(tmp_path / "a" / REVIEW_FILE, LABELS)
    (tmp_path / REVIEW_FILE).write_bytes(b'{"id": "\xff"}\n')
    with pytest.raises(Exception, match="not UTF-8"):
        read_reviews(tmp_path / REVIEW_FILE, LABELS)
    assert read_reviews(tmp_path / "missing.jsonl", LABELS).decisions == {}


def test_applied_reviews_drop_relabel_edit_and_mark_what_a_person_saw(tmp_path):
    edited = "The striker scored twice in the derby on Sunday."
    for decision in [Decision(example_id(SAMPLES[0]), "drop"), Decision(example_id(SAMPLES[1]), "edit", text=edited),
                     Decision(example_id(SAMPLES[6]), "relabel", label="sports"),
                     Decision(example_id(SAMPLES[7]), "keep")]:  # fmt: skip
        append_decision(tmp_path, decision, LABELS)
    reviewed = apply_reviews(SAMPLES, read_reviews(tmp_path / REVIEW_FILE, LABELS))
    assert len(reviewed) == len(SAMPLES) - 1 and SPORTS[0] not in [e.text for e in reviewed]
    by_index = {(e.label, e.meta["sample_index"]): e for e in reviewed}
    assert by_index["sports", 1].text == edited and by_index["sports", 1].meta["reviewed"] is True
    assert by_index["sports", 0].text == POLITICS[0]  # relabelled: politics sample 0 is now sports
    assert sum(1 for e in reviewed if e.meta.get("reviewed")) == 3
    assert SAMPLES[1].text == SPORTS[1] and "reviewed" not in SAMPLES[1].meta  # the inputs are left as they were


def test_training_uses_the_reviewed_samples_and_says_how_many_a_person_checked(tiny_project):
    raw = yaml.safe_load((tiny_project / "config.yaml").read_text())
    raw["students"] = [{"type": "tfidf"}]
    (tiny_project / "config.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tiny_project / "config.yaml")
    out = tiny_project / "out"
    write_examples(out / "synthetic.jsonl", SAMPLES)
    (out / REVIEW_FILE).write_text('{"torn\n')  # a line a crash tore: warned about, the rest honoured
    for decision in [Decision(example_id(SAMPLES[0]), "drop"), Decision(example_id(SAMPLES[11]), "drop"),
                     Decision(example_id(SAMPLES[6]), "relabel", label="sports")]:  # fmt: skip
        append_decision(out, decision, config.task.label_names)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trained = train(config, out)
    assert any("review.jsonl: line 1" in str(w.message) for w in caught)
    assert [(t["n_train"], t["n_reviewed"]) for t in trained] == [(10, 1)]
    assert not (out / "dataset_card.md").exists()  # no card to add to: nothing written

    records, _ = evaluate(config, out)
    assert [(r.classifier, r.n_train, r.n_reviewed) for r in records if r.classifier == "tfidf"] == [("tfidf", 10, 1)]
    labels = [e.label for e in apply_reviews(SAMPLES, read_reviews(out / REVIEW_FILE, LABELS))]
    assert (labels.count("sports"), labels.count("politics")) == (6, 4)


def test_export_writes_the_reviewed_dataset_with_id_and_reviewed_columns(tiny_project, capsys):
    import pyarrow.parquet as pq

    from synthdistill.cli import main

    out = tiny_project / "out"
    write_examples(out / "synthetic.jsonl", SAMPLES)
    for decision in [Decision(example_id(SAMPLES[0]), "drop"), Decision(example_id(SAMPLES[6]), "relabel",
                                                                         label="sports")]:  # fmt: skip
        append_decision(out, decision, LABELS)
    config = str(tiny_project / "config.yaml")
    assert main(["export", config, "--out", str(out), "--output", str(tiny_project / "reviewed.parquet")]) in (0, None)
    rows = pq.read_table(tiny_project / "reviewed.parquet").to_pylist()
    assert len(rows) == len(SAMPLES) - 1 and SPORTS[0] not in [r["text"] for r in rows]
    assert [(r["text"], r["label"]) for r in rows if r["reviewed"]] == [(POLITICS[0], "sports")]
    assert {r["id"] for r in rows} == {example_id(s) for s in SAMPLES[1:]}  # the id of the sample as generated
    assert main(["export", config, "--out", str(out), "--output", str(tiny_project / "reviewed.csv")]) in (0, None)
    assert (tiny_project / "reviewed.csv").read_text().splitlines()[0].split(",")[:2] == ["text", "label"]
    # a folder given as --output: one clear line, exit status 2
    assert main(["export", config, "--out", str(out), "--output", str(out)]) == 2
    assert "--output" in capsys.readouterr().err


def test_a_rerun_of_run_keeps_and_honours_the_decisions(tiny_project, fake_backend, monkeypatch):
    """`run` trains in OUT/incomplete-run/ yet uses OUT/review.jsonl, and a second run leaves the log alone: the
    same samples come back with the same ids."""
    from synthdistill import pipeline
    from synthdistill.teachers.teacher import Teacher

    monkeypatch.setattr(pipeline, "open_teacher", lambda *a, **k: Teacher(fake_backend, progress=False))
    config, out = load_config(tiny_project / "config.yaml"), tiny_project / "out"
    pipeline.run(config, out, progress=False)
    first = pipeline.read_synthetic(config, out / "synthetic.jsonl")
    append_decision(out, Decision(example_id(first[0]), "drop", by="reviewer"), config.task.label_names)
    log = (out / REVIEW_FILE).read_bytes()
    summary = pipeline.run(config, out, progress=False)
    assert (out / REVIEW_FILE).read_bytes() == log
    assert [example_id(e) for e in pipeline.read_synthetic(config, out / "synthetic.jsonl")] == [
        example_id(e) for e in first
    ]
    [synthetic_tfidf] = [r for r in summary.records if (r.classifier, r.train_source) == ("tfidf", "synthetic")]
    assert (synthetic_tfidf.n_train, synthetic_tfidf.n_reviewed) == (len(first) - 1, 0)  # a drop trains on nothing


def test_the_dataset_card_says_what_a_person_decided_and_each_student_saw(tiny_project, fake_backend, monkeypatch):
    from synthdistill import pipeline
    from synthdistill.teachers.teacher import Teacher

    monkeypatch.setattr(pipeline, "open_teacher", lambda *a, **k: Teacher(fake_backend, progress=False))
    config, out = load_config(tiny_project / "config.yaml"), tiny_project / "out"
    pipeline.run(config, out, progress=False)
    samples = pipeline.read_synthetic(config, out / "synthetic.jsonl")
    other = {"sports": "politics", "politics": "sports"}
    for decision in [Decision(example_id(samples[0]), "drop"), Decision(example_id(samples[1]), "keep"),
                     Decision(example_id(samples[2]), "relabel", label=other[samples[2].label])]:  # fmt: skip
        append_decision(out, decision, config.task.label_names)
    trained = pipeline.train(config, out)
    card = (out / "dataset_card.md").read_text()
    assert "## Reviewed by a person" in card
    assert "Standing decisions in review.jsonl: 1 dropped, 1 kept, 1 relabelled." in card
    synthetic = next(t for t in trained if t["train_source"] == "synthetic")
    assert f"| en | tfidf | synthetic | {len(samples) - 1} | 2 |" in card and synthetic["n_reviewed"] == 2
    pipeline.train(config, out)  # again: the section is replaced, not repeated
    assert (out / "dataset_card.md").read_text().count("## Reviewed by a person") == 1
