"""The torch students' one training loop: a SIGKILL in the middle of a checkpoint write leaves the previous
checkpoint loadable and a resumed fit ends where an uninterrupted one does (the plain `torch.save` onto the
checkpoint that finetune once used leaves a cut file instead); a checkpoint of other data or settings is not
resumed, one of the same finished fit is. Tiny random backbones: each case takes seconds on a CPU, most of it
the child process importing torch."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the torch students need torch (the test command installs it)")
pytest.importorskip("transformers")
pytest.importorskip("peft")

import torch

from synthdistill.students import training_loop
from synthdistill.students.finetune import FineTunedStudent
from synthdistill.students.lora import LoraStudent
from tests.conftest import POLITICS, SPORTS
from tests.random_backbones import write_tiny_backbones

ROOT = Path(__file__).resolve().parent.parent
TEXTS, LABELS = SPORTS + POLITICS, ["sports"] * 6 + ["politics"] * 6
DEV = ([SPORTS[0], POLITICS[0], SPORTS[3], POLITICS[3]], ["sports", "politics", "sports", "politics"])
POSITIONS = {"finetune": [1, 2, 3], "lora": [2, 4, 6]}  # epochs, steps checkpointed; the kill cuts the second
UNREADABLE = (RuntimeError, EOFError, OSError, pickle.UnpicklingError)  # what torch.load raises on a cut file

# The child trains with a checkpoint folder; its second checkpoint write stops halfway (half the bytes written
# and synced), says so through the `ready` file and waits to be killed. `legacy`: the checkpoint is written as
# finetune wrote it before the shared loop, torch.save straight onto the final name.
CHILD = """
import io, json, os, sys, time
from pathlib import Path
import torch
from synthdistill.students import training_loop
from tests.test_training_loop import DEV, LABELS, TEXTS, make_student

args = json.loads(sys.argv[1])
real_save, saves = torch.save, []

def save_half_then_hang(state, target, *rest, **options):
    saves.append(target)
    if len(saves) < 2:
        return real_save(state, target, *rest, **options)
    buffer = io.BytesIO()
    real_save(state, buffer)
    handle = target if hasattr(target, "write") else open(target, "wb")
    handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    handle.flush()
    os.fsync(handle.fileno())
    Path(args["ready"]).write_text("mid-write")
    time.sleep(600)

def legacy_write(path, state):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)

torch.save = save_half_then_hang
if args["writer"] == "legacy":
    training_loop.write_checkpoint = legacy_write
make_student(args["kind"], args["backbone"], args["checkpoint_dir"]).fit(TEXTS, LABELS, dev=DEV)
"""


def make_student(kind: str, backbone: str, checkpoint_dir: str | Path | None = None) -> FineTunedStudent | LoraStudent:
    """Three epochs, or six steps checkpointed every two; on the CPU, so parent and child compute alike."""
    if kind == "finetune":
        settings = {"backbone": backbone, "epochs": 3, "learning_rate": 3e-3, "max_length": 32, "batch_size": 4,
                    "device": "cpu"}  # fmt: skip
        return FineTunedStudent(settings, checkpoint_dir=checkpoint_dir, progress=False)
    settings = {"backbone": backbone, "steps": 6, "learning_rate": 2e-2, "batch_size": 4, "max_length": 48,
                "checkpoint_every": 2, "lora_rank": 4, "target_modules": ["q_proj", "v_proj"],
                "device": "cpu"}  # fmt: skip
    return LoraStudent(settings, checkpoint_dir=checkpoint_dir, progress=False)


@pytest.fixture(scope="module")
def backbones(tmp_path_factory) -> dict[str, str]:
    tiny = write_tiny_backbones(tmp_path_factory.mktemp("backbones"), [*TEXTS, *set(LABELS)])
    return {"finetune": tiny["encoder"], "lora": tiny["decoder"]}


def _kill_mid_checkpoint(kind: str, backbone: str, writer: str, tmp_path: Path) -> Path:
    """Run the child until its second checkpoint write is half done, SIGKILL it; the checkpoint folder."""
    folder, ready, log = tmp_path / "checkpoints", tmp_path / "ready", tmp_path / "child.log"
    args = {"kind": kind, "backbone": backbone, "writer": writer, "checkpoint_dir": str(folder), "ready": str(ready)}
    with open(log, "wb") as output:  # a file, not a pipe: a child blocked on a full pipe would never get ready
        child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)], cwd=ROOT, stdout=output,
                                 stderr=subprocess.STDOUT)  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not ready.exists():
                if child.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the child never reached its checkpoint write:\n{log.read_text()[-3000:]}")
                time.sleep(0.02)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    return folder


@pytest.mark.parametrize("kind", ["finetune", "lora"])
def test_a_kill_during_a_checkpoint_write_leaves_the_previous_checkpoint(backbones, kind, tmp_path):
    folder = _kill_mid_checkpoint(kind, backbones[kind], "atomic", tmp_path)
    assert (folder / "checkpoint.partial").stat().st_size > 0  # the write the kill cut short
    saved = torch.load(folder / training_loop.CHECKPOINT_FILE, weights_only=True)
    assert saved["position"] == POSITIONS[kind][0]
    resumed = make_student(kind, backbones[kind], folder).fit(TEXTS, LABELS, dev=DEV)
    assert resumed.history[0] == json.loads(saved["history"])[0]  # the first span was not trained again
    uninterrupted = make_student(kind, backbones[kind]).fit(TEXTS, LABELS, dev=DEV)
    unit = "epoch" if kind == "finetune" else "step"
    assert [record[unit] for record in resumed.history] == POSITIONS[kind]
    for name in ("train_loss", "dev_macro_f1"):
        assert [r[name] for r in resumed.history] == pytest.approx([r[name] for r in uninterrupted.history])
    assert np.allclose(resumed.predict_proba(TEXTS), uninterrupted.predict_proba(TEXTS), atol=1e-5)
    assert not (folder / "checkpoint.partial").exists()


@pytest.mark.parametrize("kind", ["finetune", "lora"])
def test_the_old_plain_torch_save_leaves_a_cut_checkpoint(backbones, kind, tmp_path):
    """What the test above guards against: finetune's checkpoint write before the shared loop."""
    folder = _kill_mid_checkpoint(kind, backbones[kind], "legacy", tmp_path)
    with pytest.raises(UNREADABLE):
        torch.load(folder / training_loop.CHECKPOINT_FILE, weights_only=True)
    with pytest.warns(UserWarning, match="unreadable checkpoint"):  # the old students raised here, every time
        resumed = make_student(kind, backbones[kind], folder).fit(TEXTS, LABELS, dev=DEV)
    assert len(resumed.history) == len(POSITIONS[kind])  # trained from the start, over the cut file
    assert torch.load(folder / training_loop.CHECKPOINT_FILE, weights_only=True)["position"] == POSITIONS[kind][-1]


@pytest.mark.parametrize("kind", ["finetune", "lora"])
def test_a_checkpoint_resumes_only_the_same_fit(backbones, kind, tmp_path):
    finished = make_student(kind, backbones[kind], tmp_path).fit(TEXTS, LABELS, dev=DEV)
    again = make_student(kind, backbones[kind], tmp_path).fit(TEXTS, LABELS, dev=DEV)
    assert again.history == finished.history  # nothing trained again: the history (seconds too) is the checkpoint's
    assert np.allclose(again.predict_proba(TEXTS), finished.predict_proba(TEXTS), atol=1e-6)

    other_data = make_student(kind, backbones[kind], tmp_path).fit(TEXTS[:-1], LABELS[:-1], dev=DEV)
    fresh = make_student(kind, backbones[kind]).fit(TEXTS[:-1], LABELS[:-1], dev=DEV)
    assert [r["train_loss"] for r in other_data.history] == pytest.approx([r["train_loss"] for r in fresh.history])
    assert np.allclose(other_data.predict_proba(TEXTS), fresh.predict_proba(TEXTS), atol=1e-5)

    no_dev = make_student(kind, backbones[kind], tmp_path).fit(TEXTS[:-1], LABELS[:-1])  # dev is part of the fit
    assert not any("dev_macro_f1" in record for record in no_dev.history)
    assert no_dev.history[0]["train_loss"] == pytest.approx(fresh.history[0]["train_loss"])
