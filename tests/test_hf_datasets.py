"""Hugging Face datasets in and out: save_to_disk folders (and FOLDER@SPLIT) as data paths, hf:NAME with the
hub loader mocked at the library boundary, and exports as save_to_disk folders with a ClassLabel and the card."""

from __future__ import annotations

import json

import datasets
import pytest
import yaml

from synthdistill import load_config
from synthdistill.data import Example, data_fingerprint, read_examples, write_examples
from synthdistill.errors import DataError
from synthdistill.pipeline import export_reviewed, load_datasets
from synthdistill.reviews import Decision, append_decision, example_id
from tests.conftest import POLITICS, SPORTS, tiny_config_dict

LABELS = ["sports", "politics"]
TEXTS = SPORTS + POLITICS


def topic_dataset(names=("sports", "politics"), text_column="sentence") -> datasets.Dataset:
    features = datasets.Features(
        {text_column: datasets.Value("string"), "topic": datasets.ClassLabel(names=list(names))}
    )
    return datasets.Dataset.from_dict(
        {text_column: TEXTS, "topic": [0] * len(SPORTS) + [1] * len(POLITICS)}, features=features
    )


def test_a_save_to_disk_folder_is_read_as_a_data_file_with_classlabel_names(tmp_path):
    topic_dataset().save_to_disk(str(tmp_path / "en"))
    rows = read_examples(tmp_path / "en", LABELS, text_column="sentence", label_column="topic", language="en")
    assert [(e.text, e.label) for e in rows] == list(zip(TEXTS, ["sports"] * 6 + ["politics"] * 6, strict=True))
    datasets.DatasetDict({"train": topic_dataset(), "test": topic_dataset().select(range(3))}).save_to_disk(
        str(tmp_path / "dict")
    )
    rows = read_examples(f"{tmp_path / 'dict'}@test", LABELS, text_column="sentence", label_column="topic")
    assert len(rows) == 3
    assert len(read_examples(tmp_path / "dict" / "train", LABELS, text_column="sentence", label_column="topic")) == 12
    with pytest.raises(DataError, match=r"has splits test, train; name one as .*@SPLIT"):
        read_examples(tmp_path / "dict", LABELS, text_column="sentence", label_column="topic")
    with pytest.raises(DataError, match=r"no split 'tset' \(splits: test, train\)"):
        read_examples(f"{tmp_path / 'dict'}@tset", LABELS, text_column="sentence", label_column="topic")


def test_bad_datasets_are_one_clear_error_naming_the_field(tmp_path):
    topic_dataset().save_to_disk(str(tmp_path / "plain"))
    with pytest.raises(DataError, match=r"no column 'text' \(columns: sentence, topic\); set data\.text_column"):
        read_examples(tmp_path / "plain", LABELS, label_column="topic")
    with pytest.raises(DataError, match=r"no column 'label' .*; set data\.label_column"):
        read_examples(tmp_path / "plain", LABELS, text_column="sentence")
    topic_dataset(names=("sport", "politics")).save_to_disk(str(tmp_path / "mismatch"))
    with pytest.raises(DataError, match="'topic' is a ClassLabel with names sport, politics; sport not among the "
                                        "task's labels \\(sports, politics\\)"):  # fmt: skip
        read_examples(tmp_path / "mismatch", LABELS, text_column="sentence", label_column="topic")


def test_a_config_names_dataset_folders_and_hub_datasets(tiny_project, monkeypatch):
    for language in ("en",):
        topic_dataset().save_to_disk(str(tiny_project / "hf" / language))
    raw = tiny_config_dict()
    raw["data"] = {"seed": "hf/{lang}", "test": "hf:example/topics:{lang}@test", "text_column": "sentence",
                   "label_column": "topic"}  # fmt: skip
    (tiny_project / "config.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    calls = []

    def load_dataset(name, config=None, split=None):  # the hub, mocked at the library boundary only
        calls.append((name, config, split))
        return topic_dataset().select(range(4, 8))

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    config = load_config(tiny_project / "config.yaml")
    loaded = load_datasets(config)["en"]
    assert calls == [("example/topics", "en", "test")]
    assert len(loaded.seed) == 12 and [e.label for e in loaded.test] == ["sports", "sports", "politics", "politics"]
    resolved = yaml.safe_load(config.to_yaml())["data"]
    assert resolved["test"] == "hf:example/topics:{lang}@test" and resolved["seed"] == str(tiny_project / "hf/{lang}")
    raw["data"]["seed"] = "hf/{lang}@train"  # a Dataset folder has no splits to pick from
    (tiny_project / "config.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(DataError, match=r"^data\.seed \(en\): .*hf/en"):
        load_datasets(load_config(tiny_project / "config.yaml"))


def test_the_fingerprint_of_a_dataset_follows_its_rows(tmp_path):
    topic_dataset().save_to_disk(str(tmp_path / "a"))
    topic_dataset().save_to_disk(str(tmp_path / "b"))
    topic_dataset().select(range(5)).save_to_disk(str(tmp_path / "c"))
    assert data_fingerprint(tmp_path / "a") == data_fingerprint(tmp_path / "b") != data_fingerprint(tmp_path / "c")


def test_exports_write_a_save_to_disk_folder_with_a_classlabel_and_the_card(tiny_project, capsys):
    from synthdistill.cli import main

    out = tiny_project / "out"
    samples = [Example(t, "sports", "en", {"template": "generate.completion.v2", "round": 0}) for t in SPORTS] + [
        Example(t, "politics", "en", {"template": "generate.completion.v2", "round": 1}) for t in POLITICS
    ]
    write_examples(out / "synthetic.jsonl", samples)
    (out / "dataset_card.md").write_text("# Dataset card\n\nsynthetic topics\n", encoding="utf-8")
    append_decision(out, Decision(example_id(samples[0]), "drop"), LABELS)
    append_decision(out, Decision(example_id(samples[6]), "relabel", label="sports"), LABELS)
    config = load_config(tiny_project / "config.yaml")
    written, reviewed = export_reviewed(config, out, tiny_project / "reviewed")
    saved = datasets.load_from_disk(str(tiny_project / "reviewed"))
    assert (written, reviewed, len(saved)) == (11, 1, 11)
    assert saved.features["label"] == datasets.ClassLabel(names=LABELS)
    assert saved.features["label"].int2str(saved[5]["label"]) == "sports" and saved[5]["text"] == POLITICS[0]
    assert saved[5]["reviewed"] is True and saved[5]["id"] == example_id(samples[6])
    assert (tiny_project / "reviewed" / "README.md").read_text() == "# Dataset card\n\nsynthetic topics\n"
    # the same path again: replaced whole; a folder that is not a dataset is refused before any work
    export_reviewed(config, out, tiny_project / "reviewed")
    assert len(datasets.load_from_disk(str(tiny_project / "reviewed"))) == 11
    (tiny_project / "notes").mkdir()
    (tiny_project / "notes" / "keep.txt").write_text("mine")
    config_file = str(tiny_project / "config.yaml")
    code = main(["export", config_file, "--out", str(out), "--output", str(tiny_project / "notes")])
    assert code == 2 and "save_to_disk did not write" in capsys.readouterr().err
    assert (tiny_project / "notes" / "keep.txt").read_text() == "mine"
    assert main(["export", config_file, "--out", str(out), "--output", str(tiny_project / "again")]) == 0
    again = datasets.load_from_disk(str(tiny_project / "again"))
    assert json.loads(json.dumps(again.to_list()[0]))["template"] == "generate.completion.v2"


def test_an_export_that_fails_at_the_last_step_leaves_the_previous_one_in_place(tmp_path, monkeypatch):
    import os

    from synthdistill import hf_datasets

    target = tmp_path / "export"
    write_examples(target, [Example(t, "sports", "en") for t in SPORTS], labels=LABELS)
    real_replace, calls = os.replace, []

    def failing_second_replace(source, destination):
        calls.append(destination)
        if len(calls) == 2:
            raise OSError("disk full")
        real_replace(source, destination)

    monkeypatch.setattr(hf_datasets.os, "replace", failing_second_replace)
    with pytest.raises(OSError, match="disk full"):
        write_examples(target, [Example(t, "politics", "en") for t in POLITICS], labels=LABELS)
    monkeypatch.setattr(hf_datasets.os, "replace", real_replace)
    kept = datasets.load_from_disk(str(target))
    assert [row["text"] for row in kept] == SPORTS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_without_the_datasets_package_the_error_says_how_to_install(tmp_path, monkeypatch):
    import sys

    topic_dataset().save_to_disk(str(tmp_path / "en"))
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(DataError, match=r'pip install "synthdistill\[hf\]"'):
        read_examples(tmp_path / "en", LABELS, text_column="sentence", label_column="topic")
    with pytest.raises(DataError, match="needs the datasets package"):
        write_examples(tmp_path / "out", [Example("a text", "sports", "en")], labels=LABELS)
    write_examples(tmp_path / "plain.jsonl", [Example("a text", "sports", "en")])  # files need nothing more
    assert [e.text for e in read_examples(tmp_path / "plain.jsonl", LABELS)] == ["a text"]
