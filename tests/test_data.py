import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthdistill.data import Example, read_examples, sample_per_label, write_examples
from synthdistill.errors import DataError

LABELS = ["pos", "neg"]


def test_jsonl_round_trip_keeps_language_and_meta(tmp_path):
    rows = [Example("good film", "pos", "en", {"teacher": "t"}), Example("bad film", "neg", "en")]
    write_examples(tmp_path / "out.jsonl", rows)
    back = read_examples(tmp_path / "out.jsonl", LABELS)
    assert [(e.text, e.label, e.language) for e in back] == [("good film", "pos", "en"), ("bad film", "neg", "en")]
    assert back[0].meta == {"teacher": "t"}


def test_csv_with_custom_columns(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('sentence,sentiment\n"good, really",pos\nawful,neg\n', encoding="utf-8")
    rows = read_examples(path, LABELS, text_column="sentence", label_column="sentiment", language="sw")
    assert [(e.text, e.label, e.language) for e in rows] == [("good, really", "pos", "sw"), ("awful", "neg", "sw")]


def test_parquet(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"text": ["good", "bad"], "label": ["pos", "neg"]}), path)
    assert [e.label for e in read_examples(path, LABELS)] == ["pos", "neg"]


def test_label_not_in_task_names_file_and_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "a", "label": "pos"}) + "\n" + json.dumps({"text": "b", "label": "meh"}) + "\n")
    with pytest.raises(DataError, match=r"d\.jsonl:2: label 'meh' is not in the task"):
        read_examples(path, LABELS)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no rows"),
        (b'{"text": "a", "label": "pos"}\n{"text": "caf\xe9", "label": "pos"}\n', r"d\.jsonl:2: not UTF-8"),
        (b'{"text": "a", "label": "pos"}\n{broken\n', r"d\.jsonl:2: invalid JSON"),
        (b'{"text": "", "label": "pos"}\n', r"d\.jsonl:1: empty text"),
        (b'{"txt": "a", "label": "pos"}\n', "missing text column 'text'"),
        (b'{"text": "a"}\n', "missing label column 'label'"),
        (b'["a", "pos"]\n', "expected a JSON object"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "d.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_examples(path, LABELS)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_examples(tmp_path / "nope.jsonl", LABELS)
    (tmp_path / "x.txt").write_text("a")
    with pytest.raises(DataError, match=r"set data\.format"):
        read_examples(tmp_path / "x.txt", LABELS)


def test_texts_only_for_prediction(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "hello"}\n')
    assert [e.text for e in read_examples(path, label_column=None)] == ["hello"]


def test_sample_per_label_is_reproducible_and_capped():
    rows = [Example(f"t{i}", "pos" if i % 3 else "neg") for i in range(30)]
    first = sample_per_label(rows, 4, seed=1)
    assert first == sample_per_label(rows, 4, seed=1)
    assert {label: len(v) for label, v in first.items()} == {"neg": 4, "pos": 4}
    assert all(e.label == label for label, v in first.items() for e in v)
    assert len(sample_per_label(rows, 100, seed=1)["neg"]) == 10
    assert first != sample_per_label(rows, 4, seed=2)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".tsv", ".parquet"])
def test_write_then_read_in_every_format(tmp_path, suffix):
    rows = [Example('good, "really"', "pos", "sw", {"sample_index": 0}), Example("bad\tfilm", "neg", "sw")]
    path = tmp_path / f"out{suffix}"
    write_examples(path, rows)
    back = read_examples(path, LABELS)
    assert [(e.text, e.label, e.language) for e in back] == [(r.text, r.label, r.language) for r in rows]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left behind
