"""Labelled text rows in and out: JSONL, CSV and Parquet, checked against the task's labels."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from synthdistill.errors import DataError

Format = Literal["auto", "jsonl", "csv", "parquet"]


@dataclass
class Example:
    """One labelled text; `meta` carries provenance (teacher, template, prompt hash) or anything else."""

    text: str
    label: str
    language: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"text": self.text, "label": self.label}
        if self.language is not None:
            row["language"] = self.language
        row.update(self.meta)
        return row


def check_export_path(path: Path, what: str) -> Format | Literal["dataset"]:
    """Before any work: the format an export will be written in, from its extension (none: a datasets
    `save_to_disk` folder); DataError naming the option when the path cannot be written or the format is unknown."""
    from synthdistill import hf_datasets

    if hf_datasets.is_dataset_target(path):
        if path.exists() and not hf_datasets.is_saved_dataset(path):
            raise DataError(f"{what} {path}: is a folder that datasets' save_to_disk did not write; give another path")
        _check_parents(path, what)
        return "dataset"
    check_output_file(path, what)
    try:
        return _detect_format(path, "auto")
    except DataError:
        raise DataError(
            f"{what} {path}: cannot tell the format from the extension: use .jsonl, .csv or .parquet, or no "
            "extension for a Hugging Face datasets folder"
        ) from None


def _detect_format(path: Path, fmt: Format) -> Format:
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise DataError(f"{path}: cannot tell the format from the extension; set data.format")


def _records_jsonl(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")  # a byte-order mark is no JSON
            except UnicodeDecodeError:
                raise DataError(f"{path}:{number}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}: invalid JSON: {err.msg}") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}: expected a JSON object per line")
            yield number, record


def _records_csv(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:  # a byte-order mark is no column name
            reader = csv.DictReader(handle, delimiter=delimiter)
            for record in reader:
                yield reader.line_num, record
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    except csv.Error as err:
        raise DataError(f"{path}: invalid CSV: {err}") from None


def _records_parquet(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    import pyarrow.parquet as pq  # adapter: the only user of pyarrow

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises many types for a bad file
        raise DataError(f"{path}: cannot read Parquet: {err}") from None
    yield from enumerate(table.to_pylist(), start=1)


def read_examples(
    path: str | Path,
    labels: Sequence[str] | None = None,
    *,
    text_column: str = "text",
    label_column: str | None = "label",
    fmt: Format = "auto",
    language: str | None = None,
) -> list[Example]:
    """Read rows; with `labels` given, a label outside the task is an error naming file and line.

    With `label_column=None` only texts are read (labels left empty), for prediction input.
    """
    from synthdistill import hf_datasets

    if hf_datasets.is_dataset_source(path):  # a save_to_disk folder or hf:NAME: rows as the datasets library reads
        records: Iterable[tuple[int, dict[str, Any]]] = hf_datasets.dataset_records(path, text_column, label_column,
                                                                                   labels)  # fmt: skip
        kind = "dataset"
    else:
        path = Path(path)
        if path.is_dir():
            raise DataError(f"{path}: is a folder, and not one that datasets' save_to_disk wrote; give a data file")
        if not path.is_file():
            raise DataError(f"{path}: file not found")
        kind = _detect_format(path, fmt)
        records = {"jsonl": _records_jsonl, "csv": _records_csv, "parquet": _records_parquet}[kind](path)
    known = set(labels) if labels is not None else None
    examples: list[Example] = []
    for number, record in records:
        where = f"{path}:{number}" if kind in ("jsonl", "csv") else f"{path}: row {number}"
        text = record.get(text_column)
        if text is None:
            raise DataError(f"{where}: missing text column {text_column!r}")
        if not isinstance(text, str):
            kind_of = "a number" if isinstance(text, int | float) else f"a JSON {type(text).__name__}"
            raise DataError(f"{where}: text column {text_column!r} holds {kind_of}, not text")
        if not text.strip():
            raise DataError(f"{where}: empty text")
        label = ""
        if label_column is not None:
            value = record.get(label_column)
            if value is None or value == "":
                raise DataError(f"{where}: missing label column {label_column!r}")
            label = str(value)
            if known is not None and label not in known:
                raise DataError(f"{where}: label {label!r} is not in the task (labels: {', '.join(labels or [])})")
        row_language = record.get("language", language)
        meta = {k: v for k, v in record.items() if k not in (text_column, label_column, "language")}
        examples.append(Example(text=text.strip(), label=label, language=row_language, meta=meta))
    if not examples:
        raise DataError(f"{path}: no rows")
    return examples


def read_dropped(path: str | Path, labels: Sequence[str]) -> list[Example]:
    """The samples that generation's filters dropped (dropped.jsonl), each with its `reason` in meta; a missing
    file is none dropped, and rows with nothing to show (an empty answer) are left out. A row that is not what
    generation writes is an error naming the line."""
    path = Path(path)
    if not path.exists():
        return []
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected the dropped samples file")
    known = set(labels)
    dropped = []
    for number, record in _records_jsonl(path):
        text, label, reason = record.get("text"), record.get("label"), record.get("reason")
        if not all(isinstance(value, str) for value in (text, label, reason)):
            raise DataError(f"{path}:{number}: expected text, label and reason as strings")
        if label not in known:
            raise DataError(f"{path}:{number}: label {label!r} is not in the task (labels: {', '.join(labels)})")
        if not isinstance(record.get("language"), str | None):
            raise DataError(f"{path}:{number}: expected language as a string (a code such as sw)")
        if text.strip():
            meta = {k: v for k, v in record.items() if k not in ("text", "label", "language")}
            dropped.append(Example(text.strip(), label, record.get("language"), meta))
    return dropped


def data_source(template: str, base_dir: Path) -> Path:
    """A data path from a config: relative ones start at the config's folder; a hub reference (hf:NAME) stays
    as written."""
    from synthdistill.hf_datasets import is_hub_reference

    path = Path(template).expanduser()
    return path if path.is_absolute() or is_hub_reference(template) else base_dir / path


def data_fingerprint(path: Path) -> str:
    """What a data source holds, for keys of finished work: a file's bytes, a dataset's rows."""
    from synthdistill import hf_datasets

    if hf_datasets.is_dataset_source(path):
        return hf_datasets.fingerprint(path)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise DataError(f"{path}: data file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, and not one that datasets' save_to_disk wrote") from None


def read_json_file(path: str | Path, what: str) -> Any:
    """A JSON file's content; DataError naming the file when it is missing or not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: {what} file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: {what} file is not valid JSON: {err}") from None


def _process_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: done once, at import, before any thread writes
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_process_umask()  # what open() would give a new file


def check_output_file(path: str | Path, what: str) -> Path:
    """Fail before any work when `path` cannot become a file: it is a folder, or lies under a file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{what} {path}: is a folder; give a file name")
    _check_parents(path, what)
    return path


def check_output_folder(path: str | Path, what: str) -> Path:
    """Fail before any work when `path` cannot be a folder: it is a file, or lies under a file."""
    path = Path(path)
    lexical = Path(os.path.normpath(path))  # `new/../taken` is `taken` to mkdir, though `new` does not exist yet
    if (path.exists() and not path.is_dir()) or (lexical.exists() and not lexical.is_dir()):
        raise DataError(f"{what} {path}: is a file; give a folder")
    _check_parents(path, what)
    return path


def _check_parents(path: Path, what: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DataError(f"{what} {path}: {parent} is a file, not a folder")
            return


def atomic_write_text(path: str | Path, content: str) -> None:
    """Write a file whole or not at all, so an interrupted run never leaves a half file behind; with the
    permissions that the umask gives any new file (mkstemp's own are 0600)."""
    path = Path(path)
    check_output_file(path, "cannot write")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_JSON_LINE = json.JSONEncoder(ensure_ascii=False)  # json.dumps(row, ensure_ascii=False) without an encoder per row


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(_JSON_LINE.encode(row) + "\n" for row in rows))


def write_examples(
    path: str | Path,
    examples: Iterable[Example],
    fmt: Format = "auto",
    *,
    labels: Sequence[str] | None = None,
    card: str | None = None,
) -> None:
    """Write rows as JSONL, CSV or Parquet (by extension unless `fmt` says), whole or not at all; a path without
    an extension becomes a `save_to_disk` folder (the label a ClassLabel of `labels`, `card` its README.md)."""
    from synthdistill import hf_datasets

    rows = [example.to_dict() for example in examples]
    if fmt == "auto" and hf_datasets.is_dataset_target(Path(path)):
        hf_datasets.save(Path(path), rows, labels, card)
        return
    path = check_output_file(path, "cannot write")
    kind = _detect_format(path, fmt)
    if kind == "jsonl":
        write_jsonl(path, rows)
        return
    columns = list(dict.fromkeys(key for row in rows for key in row))
    if kind == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        writer.writeheader()
        writer.writerows({k: _csv_cell(v) for k, v in row.items()} for row in rows)
        atomic_write_text(path, buffer.getvalue())
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _csv_cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def sample_per_label(examples: Sequence[Example], k: int, seed: int) -> dict[str, list[Example]]:
    """Up to k random examples of each label, reproducible from `seed`, in the data's label order."""
    by_label: dict[str, list[Example]] = {}
    for example in examples:
        by_label.setdefault(example.label, []).append(example)
    rng = random.Random(seed)
    return {label: rng.sample(rows, min(k, len(rows))) for label, rows in by_label.items()}


@dataclass
class DroppedSample:
    text: str
    language: str
    label: str
    reason: str
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"text": self.text, "language": self.language, "label": self.label, "reason": self.reason, **self.meta}


def sample_seed(*parts: object) -> int:
    """A stable 31-bit seed from the parts, so a sample's demos and sampling seed never change between runs."""
    return seeds_after(*parts[:-1])(parts[-1]) if parts else seeds_after()("")


def seeds_after(*prefix: object) -> Callable[[object], int]:
    """`sample_seed(*prefix, last)` as a function of `last`, hashing the shared prefix once."""
    shared = hashlib.sha256(("\x1f".join(map(str, prefix)) + ("\x1f" if prefix else "")).encode("utf-8"))

    def seed(last: object) -> int:
        digest = shared.copy()
        digest.update(str(last).encode("utf-8"))
        return int.from_bytes(digest.digest()[:4], "big") & 0x7FFFFFFF

    return seed
