"""The one training loop of the torch students (`finetune`, `lora`): seeding, checkpoints, resume, best on dev.

The loop owns the bookkeeping; a student supplies a `Trainee` for one fit: how to build its model, how to train
a span of positions (finetune: one epoch; lora: `checkpoint_every` steps), and which weights a checkpoint holds
(finetune: the whole model; lora: the adapter only). After each span the loop scores the human dev split when
there is one, keeps the weights best on it (never chosen on synthetic data; without dev: the last), records
the span in the history and writes a checkpoint.

A checkpoint is written whole or not at all (a temporary file beside it, flushed to disk, renamed over the old
one), so a kill at any moment leaves the previous checkpoint intact. It resumes only a fit of the same settings,
data and checkpoint layout (its fingerprint and format), and exactly: weights, optimiser, the global random
states (dropout) and the loop's shuffling generator continue as if never interrupted.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import pickle
import random
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from synthdistill.evaluation.scores import classification_scores
from synthdistill.students.backbones import restore_rng_states, rng_states

if TYPE_CHECKING:
    import torch

    from synthdistill.students.base import Student

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = 2  # the layout below; a checkpoint of another layout (the students' own before 2) is not resumed
Dev = tuple[Sequence[str], Sequence[str]]


class Trainee(Protocol):
    """What a torch student supplies for one fit."""

    student: Student  # what is trained: the loop scores dev with its `predict` and `classes`

    def build(self) -> torch.optim.Optimizer:
        """Load the model and return its optimiser; called right after seeding, so initial weights (a new
        classification head, LoRA matrices) are drawn the same way on every run with the seed."""
        ...

    def train_span(self, start: int, end: int, shuffle: torch.Generator) -> float:
        """Train positions `start` to `end - 1` (epochs or steps); return the mean training loss. `shuffle`: the
        loop's data-order generator (seeded, checkpointed), for trainees that draw their order from it."""
        ...

    def weights(self) -> dict[str, torch.Tensor]:
        """The weights a checkpoint and the best-on-dev copy hold; the loop copies them where it keeps them."""
        ...

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None: ...


@dataclass(frozen=True)
class TrainingPlan:
    """One fit's schedule. `ends`: the increasing positions after which the loop evaluates and checkpoints (epochs
    1..N; or steps k, 2k, ... and the last); `unit`: their name in the history ("epoch", "step")."""

    seed: int
    unit: str
    ends: tuple[int, ...]
    device: torch.device
    fingerprint: str  # of the settings and data (see `fingerprint`): a checkpoint of others is not resumed
    checkpoint_dir: Path | None = None
    dev: Dev | None = None


@dataclass
class TrainingOutcome:
    """What a fit leaves besides the weights: `history` per span (position, mean training loss, training seconds,
    dev macro-F1 when there is dev), and the position of the weights kept (best on dev, else the last)."""

    history: list[dict[str, float]] = field(default_factory=list)
    best: int = 0


def fingerprint(params: dict[str, Any], texts: Sequence[str], labels: Sequence[str], dev: Dev | None) -> str:
    """Settings and data in one hash: a checkpoint carries it and resumes only a fit that has the same."""
    dev_rows = [list(dev[0]), list(dev[1])] if dev is not None else None
    payload = json.dumps([params, list(texts), list(labels), dev_rows], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def checkpoint_dir(workdir: Path, kind: str, language: str, run_name: str | None) -> Path:
    """Where a run's checkpoints go: workdir/checkpoints/RUN_NAME, by default KIND-LANGUAGE."""
    return workdir / "checkpoints" / (run_name or f"{kind}-{language}")


def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's global generators, before anything draws from them."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def write_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Whole or not at all: written to a temporary file in the same folder, flushed to disk, then renamed over
    the previous checkpoint (atomic), so a kill at any moment leaves that one intact."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")  # one fixed name: a killed write's leftover is overwritten, not piled up
    with open(partial, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    with contextlib.suppress(OSError):  # the rename on disk too; not every system opens folders (Windows)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def read_checkpoint(path: Path, plan: TrainingPlan) -> dict[str, Any] | None:
    """The checkpoint to resume from: None where there is none, or it is of other settings, data or layout. One
    that cannot be read (cut short by a writer that was not atomic) is warned about and trained over."""
    import torch

    if not path.is_file():
        return None
    try:
        saved = torch.load(path, weights_only=True, map_location=plan.device)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as err:
        warnings.warn(f"{path}: unreadable checkpoint ({err}); training from the start", stacklevel=3)
        return None
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        return None
    return saved if saved.get("fingerprint") == plan.fingerprint else None


def train(trainee: Trainee, plan: TrainingPlan) -> TrainingOutcome:
    """Seed, build, resume from a matching checkpoint, then train span after span; ends with the weights kept."""
    import torch

    seed_everything(plan.seed)
    optimizer = trainee.build()
    shuffle = torch.Generator().manual_seed(plan.seed)
    checkpoint = plan.checkpoint_dir / CHECKPOINT_FILE if plan.checkpoint_dir is not None else None
    outcome, position, best_score, best_weights = TrainingOutcome(), 0, -1.0, None
    best_at: int | None = None
    saved = read_checkpoint(checkpoint, plan) if checkpoint is not None else None
    if saved is not None:
        trainee.load_weights(saved["weights"])
        optimizer.load_state_dict(saved["optimizer"])
        position, outcome.history = saved["position"], json.loads(saved["history"])
        best_score, best_weights = saved["best_score"], saved["best_weights"]
        best_at = saved["best_position"] if saved["best_position"] >= 0 else None
        restore_rng_states(saved, plan.device)
        shuffle.set_state(saved["shuffle_rng"].cpu())
    for start, end in itertools.pairwise((0, *plan.ends)):
        if end <= position:
            continue
        started = time.perf_counter()
        loss = trainee.train_span(start, end, shuffle)
        record = {plan.unit: end, "train_loss": loss, "seconds": round(time.perf_counter() - started, 3)}
        if plan.dev is not None:
            student = trainee.student
            score = classification_scores(list(plan.dev[1]), student.predict(plan.dev[0]), student.classes)["macro_f1"]
            record["dev_macro_f1"] = score
            if score > best_score:
                best_score, best_at = score, end
                best_weights = {name: value.detach().clone() for name, value in trainee.weights().items()}
        outcome.history.append(record)
        position = end
        if checkpoint is not None:
            write_checkpoint(checkpoint, {
                "format": CHECKPOINT_FORMAT, "fingerprint": plan.fingerprint, "position": position,
                "weights": trainee.weights(), "optimizer": optimizer.state_dict(), "best_weights": best_weights,
                "best_score": best_score, "best_position": best_at if best_at is not None else -1,
                "history": json.dumps(outcome.history), **rng_states(plan.device), "shuffle_rng": shuffle.get_state(),
            })  # fmt: skip
    if best_weights is not None:  # there was dev
        trainee.load_weights(best_weights)
    outcome.best = best_at if best_at is not None else plan.ends[-1]
    return outcome
