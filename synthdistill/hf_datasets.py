"""Hugging Face `datasets` in and out (the optional extra `hf`): the only module that imports `datasets`.

A data path may name a folder written by `save_to_disk` (a Dataset, or a DatasetDict with `FOLDER@SPLIT`), or
`hf:NAME[:CONFIG][@SPLIT]` on the hub for users online. A ClassLabel column is read as its names. Samples can be
written as a `save_to_disk` folder with the label as a ClassLabel of the task's labels and the dataset card as
its README.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from synthdistill.errors import DataError

HUB_PREFIX = "hf:"
INSTALL = 'pip install "synthdistill[hf]" (or pip install datasets)'
_DATASET_MARKERS = ("dataset_info.json", "state.json")
_DICT_MARKER = "dataset_dict.json"


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise DataError(f"reading or writing Hugging Face datasets needs the datasets package: {INSTALL}") from None
    return datasets


def _split_at(text: str) -> tuple[str, str | None]:
    base, at, split = text.rpartition("@")
    return (base, split or None) if at else (text, None)


def is_hub_reference(source: str | Path) -> bool:
    return str(source).startswith(HUB_PREFIX)


def is_saved_dataset(folder: Path) -> bool:
    """A folder `save_to_disk` wrote: one Dataset or a DatasetDict."""
    return folder.is_dir() and (
        all((folder / m).is_file() for m in _DATASET_MARKERS) or (folder / _DICT_MARKER).is_file()
    )


def is_dataset_source(source: str | Path) -> bool:
    """Whether a data path names a dataset (hub or saved folder, optionally FOLDER@SPLIT) rather than a file."""
    if is_hub_reference(source):
        return True
    folder, _ = _split_at(str(source))
    return is_saved_dataset(Path(folder)) or is_saved_dataset(Path(source))


def parse_hub_reference(reference: str) -> tuple[str, str | None, str | None]:
    """`hf:NAME[:CONFIG][@SPLIT]` -> (name, config, split)."""
    rest, split = _split_at(reference.removeprefix(HUB_PREFIX))
    name, _, config = rest.partition(":")
    if not name:
        raise DataError(f"{reference}: give a dataset name, as in hf:NAME[:CONFIG][@SPLIT]")
    return name, config or None, split


def _one_split(loaded: Any, where: str, split: str | None) -> Any:
    """The Dataset of `split` from a DatasetDict (or the only one), with the splits listed when it is not there."""
    datasets = _datasets()
    if isinstance(loaded, datasets.Dataset):
        if split is not None and not is_hub_reference(where):  # the hub loader has picked it already
            raise DataError(f"{where}: is one dataset without splits; leave out @{split}")
        return loaded
    splits = sorted(loaded)
    if split is None:
        if len(splits) == 1:
            return loaded[splits[0]]
        raise DataError(f"{where}: has splits {', '.join(splits)}; name one as {where}@SPLIT")
    if split not in loaded:
        raise DataError(f"{where}: no split {split!r} (splits: {', '.join(splits)})")
    return loaded[split]


def load(source: str | Path) -> Any:
    """The Dataset a data path names."""
    datasets = _datasets()
    text = str(source)
    if is_hub_reference(text):
        name, config, split = parse_hub_reference(text)
        try:
            loaded = datasets.load_dataset(name, config, split=split) if split else datasets.load_dataset(name, config)
        except ValueError as err:  # an unknown split or config
            raise DataError(f"{text}: {err}") from None
        return _one_split(loaded, text, split)
    folder, split = (
        (Path(text), None) if is_saved_dataset(Path(text)) else (Path(_split_at(text)[0]), _split_at(text)[1])
    )
    return _one_split(datasets.load_from_disk(str(folder)), str(folder), split)


def dataset_records(
    source: str | Path, text_column: str, label_column: str | None, labels: Sequence[str] | None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) for each row; a ClassLabel column as its names. A missing column, or a ClassLabel whose
    names are not the task's labels, is a DataError naming the column."""
    datasets = _datasets()
    dataset = load(source)
    columns = list(dataset.column_names)
    for name, role in ((text_column, "text_column"), (label_column, "label_column")):
        if name is not None and name not in columns:
            raise DataError(f"{source}: no column {name!r} (columns: {', '.join(columns)}); set data.{role}")
    names: dict[str, list[str]] = {
        column: feature.names
        for column, feature in dataset.features.items()
        if isinstance(feature, datasets.ClassLabel)
    }
    if label_column in names and labels is not None:
        unknown = [name for name in names[label_column] if name not in labels]
        if unknown:
            raise DataError(
                f"{source}: column {label_column!r} is a ClassLabel with names {', '.join(names[label_column])}; "
                f"{', '.join(unknown)} not among the task's labels ({', '.join(labels)})"
            )
    for number, row in enumerate(dataset.to_list(), start=1):
        for column, column_names in names.items():
            value = row.get(column)
            if isinstance(value, int) and 0 <= value < len(column_names):
                row[column] = column_names[value]
        yield number, row


def is_dataset_target(path: Path) -> bool:
    """An output path with no file extension is a `save_to_disk` folder."""
    return path.suffix == "" or is_saved_dataset(path)


def save(folder: Path, rows: Iterable[dict[str, Any]], labels: Sequence[str] | None, card: str | None) -> None:
    """Write `rows` as a `save_to_disk` folder (label a ClassLabel of `labels`; the card as README.md), whole or
    not at all: into a sibling folder first, then in place of the old one."""
    datasets = _datasets()
    rows = list(rows)
    if folder.exists() and not is_saved_dataset(folder):
        raise DataError(f"{folder}: is a folder that save_to_disk did not write; refusing to replace it")
    if not rows:
        raise DataError(f"{folder}: no rows to write")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = {column: [row.get(column) for row in rows] for column in columns}
    labelled = labels is not None and "label" in table
    if labelled:
        table["label"] = [list(labels).index(label) for label in table["label"]]  # type: ignore[arg-type]
    dataset = datasets.Dataset.from_dict(table)
    if labelled:
        dataset = dataset.cast_column("label", datasets.ClassLabel(names=list(labels)))  # type: ignore[arg-type]
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        dataset.save_to_disk(str(staging / "data"))
        if card is not None:
            (staging / "data" / "README.md").write_text(card, encoding="utf-8")
        old = folder.with_name(f".{folder.name}.old") if folder.exists() else None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
        try:
            os.replace(staging / "data", folder)
        except BaseException:
            if old is not None and not folder.exists():
                os.replace(old, folder)  # the previous export back in its place
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fingerprint(source: str | Path) -> str:
    """What a dataset holds, for the experiment store's keys: its rows as JSON (the same rows, the same key)."""
    digest = hashlib.sha256()
    for row in load(source).to_list():
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    return digest.hexdigest()
