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


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_and_jsonl_with_a_byte_order_mark_and_either_line_ending(tmp_path, newline):
    """Before: a BOM made the first CSV column '\\ufefftext' ("missing text column 'text'")."""
    csv_path = tmp_path / "excel.csv"
    csv_path.write_bytes(("\ufefftext,label" + newline + "good film,pos" + newline + "bad film,neg" + newline).encode())
    jsonl_path = tmp_path / "notepad.jsonl"
    lines = [json.dumps({"text": "good film", "label": "pos"}), json.dumps({"text": "bad film", "label": "neg"})]
    jsonl_path.write_bytes(("\ufeff" + newline.join(lines) + newline).encode())
    for path in (csv_path, jsonl_path):
        assert [(e.text, e.label) for e in read_examples(path, LABELS)] == [("good film", "pos"), ("bad film", "neg")]


def test_a_number_where_text_belongs_is_named_as_such(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps({"text": "fine", "label": "pos"}) + "\n" + json.dumps({"text": 42, "label": "neg"}) + "\n"
    )
    with pytest.raises(DataError, match=r"d\.jsonl:2: text column 'text' holds a number, not text"):
        read_examples(path, LABELS)


def test_a_folder_given_as_a_data_file(tmp_path):
    (tmp_path / "test.jsonl").mkdir()
    with pytest.raises(DataError, match=r"test\.jsonl: is a folder, and not one that datasets. save_to_disk wrote"):
        read_examples(tmp_path / "test.jsonl", LABELS)


def test_written_files_follow_the_umask(tmp_path):
    """Before: the atomic writer left mkstemp's 0600 on every file it wrote, whatever the umask."""
    import stat

    from synthdistill import data

    write_examples(tmp_path / "s.jsonl", [Example("good film", "pos")])
    write_examples(tmp_path / "s.csv", [Example("good film", "pos")])
    expected = 0o666 & ~data._process_umask()
    for name in ("s.jsonl", "s.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected


def test_output_paths_that_cannot_be_written(tmp_path):
    from synthdistill.data import check_output_file, check_output_folder

    (tmp_path / "a_file").write_text("x")
    with pytest.raises(DataError, match=r"--export .*a_file/out\.jsonl: .*a_file is a file, not a folder"):
        check_output_file(tmp_path / "a_file/out.jsonl", "--export")
    with pytest.raises(DataError, match=r"--output .*: is a folder; give a file name"):
        check_output_file(tmp_path, "--output")
    with pytest.raises(DataError, match=r"--out .*a_file: is a file; give a folder"):
        check_output_folder(tmp_path / "a_file", "--out")
    with pytest.raises(DataError, match=r"a_file is a file, not a folder"):
        write_examples(tmp_path / "a_file/deeper/x.jsonl", [Example("good film", "pos")])
    assert check_output_folder(tmp_path / "new/folder", "--out") == tmp_path / "new/folder"
    with pytest.raises(DataError, match=r"--out .*new/\.\./a_file: is a file; give a folder"):
        check_output_folder(tmp_path / "new/../a_file", "--out")  # mkdir would make new/, then fail on a_file
    assert not (tmp_path / "new").exists()


def test_dropped_samples_with_their_reasons_and_rows_that_are_not_what_generation_writes(tmp_path):
    from synthdistill.data import read_dropped

    path = tmp_path / "dropped.jsonl"
    assert read_dropped(path, LABELS) == []  # none dropped yet
    good = {"text": " great ", "label": "pos", "language": "en", "reason": "near_duplicate"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "text": " "}) + "\n", encoding="utf-8")
    [row] = read_dropped(path, LABELS)
    assert (row.text, row.label, row.language, row.meta) == ("great", "pos", "en", {"reason": "near_duplicate"})
    for bad, message in [
        ({**good, "reason": None}, "expected text, label and reason as strings"),
        ({**good, "label": "meh"}, "label 'meh' is not in the task"),
        ({**good, "language": ["en"]}, "expected language as a string"),
    ]:
        path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
        with pytest.raises(DataError, match=f"dropped.jsonl:2: {message}"):
            read_dropped(path, LABELS)
