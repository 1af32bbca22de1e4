"""A person's decisions on synthetic samples (keep, drop, relabel, edit, undo), kept in OUT/review.jsonl and
honoured by training. The log is append-only, one decision a line, so nothing is lost when a server or a
browser dies, both tabs' decisions stay on record, and undo is one more line. A sample is named by a stable id
made from what it is (language, label and text as generated), not by its line number, so a re-run of
generation that writes the same sample keeps its decisions.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from synthdistill.data import Example
from synthdistill.errors import DataError

REVIEW_FILE = "review.jsonl"
Action = Literal["keep", "drop", "relabel", "edit", "undo"]
ACTIONS: tuple[str, ...] = ("keep", "drop", "relabel", "edit", "undo")


def sample_id(language: str | None, label: str, text: str) -> str:
    """16 hex digits naming a generated sample by what it is."""
    payload = json.dumps([language, label, text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def example_id(example: Example) -> str:
    return sample_id(example.language, example.label, example.text)


@dataclass(frozen=True)
class Decision:
    """One line of the log: `label` for relabel, `text` for edit; `by` and `at` say who and when."""

    id: str
    action: Action
    label: str | None = None
    text: str | None = None
    by: str = ""
    at: str = ""

    def to_dict(self) -> dict[str, Any]:
        row = {"id": self.id, "action": self.action, "by": self.by, "at": self.at}
        if self.label is not None:
            row["label"] = self.label
        if self.text is not None:
            row["text"] = self.text
        return row


@dataclass(frozen=True)
class ReviewState:
    """What the decisions still standing make of one sample; None: as generated."""

    dropped: bool | None = None  # True dropped, False kept by a person, None not decided
    label: str | None = None
    text: str | None = None


@dataclass
class Reviews:
    """The log read: each reviewed sample's standing decisions, and the lines that could not be read."""

    decisions: dict[str, list[Decision]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, decision: Decision) -> None:
        """One more decision on record: the later one wins; an undo takes back the latest still standing."""
        standing = self.decisions.setdefault(decision.id, [])
        if decision.action == "undo":
            if standing:
                standing.pop()
        else:
            standing.append(decision)

    def state(self, identifier: str) -> ReviewState | None:
        standing = self.decisions.get(identifier)
        if not standing:
            return None
        state = ReviewState()
        for decision in standing:
            if decision.action in ("keep", "drop"):
                state = replace(state, dropped=decision.action == "drop")
            elif decision.action == "relabel":
                state = replace(state, label=decision.label)
            elif decision.action == "edit":
                state = replace(state, text=decision.text)
        return state


def standing_counts(reviews: Reviews) -> dict[str, int]:
    """How many samples a person's standing decisions drop, keep, relabel and edit (one sample may count twice:
    relabelled and edited)."""
    counts = dict.fromkeys(("dropped", "kept", "relabelled", "edited"), 0)
    for identifier in reviews.decisions:
        state = reviews.state(identifier)
        if state is None:
            continue
        counts["dropped"] += state.dropped is True
        counts["kept"] += state.dropped is False
        counts["relabelled"] += state.label is not None and not state.dropped
        counts["edited"] += state.text is not None and not state.dropped
    return counts


def check_decision(decision: Decision, labels: Sequence[str]) -> None:
    """ValueError naming what is wrong: an unknown action or label, a relabel without a label, an empty edit."""
    if decision.action not in ACTIONS:
        raise ValueError(f"unknown action {decision.action!r}: give one of {', '.join(ACTIONS)}")
    if not decision.id:
        raise ValueError("no sample id")
    for name in ("label", "text"):
        if getattr(decision, name) is not None and not isinstance(getattr(decision, name), str):
            raise ValueError(f"{name} must be a string")
    if decision.action == "relabel" and decision.label not in labels:
        raise ValueError(f"label {decision.label!r} is not a label of the task ({', '.join(labels)})")
    if decision.action == "edit" and not (decision.text or "").strip():
        raise ValueError("an edit needs a text that is not empty")


def append_decision(folder: str | Path, decision: Decision, labels: Sequence[str]) -> Decision:
    """Check the decision, stamp it with the time, and append it to the log (see `append_decisions`)."""
    return append_decisions(folder, [decision], labels)[0]


def append_decisions(folder: str | Path, decisions: Sequence[Decision], labels: Sequence[str]) -> list[Decision]:
    """Check every decision (one bad one and nothing is written), stamp them with the time, and append them in
    one write (O_APPEND), flushed to disk before returning: a crash leaves either whole lines or, at worst, a
    torn last line that `read_reviews` reports and skips. One write and one fsync, so a bulk action on 100,000
    samples costs one flush, not 100,000."""
    for decision in decisions:
        check_decision(decision, labels)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    stamped = [replace(decision, at=decision.at or now) for decision in decisions]
    payload = "".join(json.dumps(d.to_dict(), ensure_ascii=False) + "\n" for d in stamped).encode("utf-8")
    path = Path(folder) / REVIEW_FILE
    handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = 0
        while written < len(payload):  # a regular file takes it in one write; a short write is not lost either
            written += os.write(handle, payload[written:])
        os.fsync(handle)
    finally:
        os.close(handle)
    return stamped


def read_reviews(path: str | Path, labels: Sequence[str]) -> Reviews:
    """Every readable decision in order; an unreadable line is reported by its number and skipped, the rest
    kept. An undo takes back the latest standing decision on its sample."""
    reviews = Reviews()
    path = Path(path)
    if not path.exists():
        return reviews
    if not path.is_file():
        raise DataError(f"{path}: expected the review log file, found a folder")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 ({err.reason} at byte {err.start})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, Mapping):
                raise ValueError("not a JSON object")
            decision = Decision(
                id=str(row.get("id", "")), action=row.get("action"), label=row.get("label"), text=row.get("text"),
                by=str(row.get("by", "")), at=str(row.get("at", "")),
            )  # fmt: skip
            check_decision(decision, labels)
        except (ValueError, TypeError) as err:
            reviews.problems.append(f"{path}: line {number}: {err}; the line is skipped")
            continue
        reviews.add(decision)
    return reviews


def apply_reviews(examples: Iterable[Example], reviews: Reviews) -> list[Example]:
    """The samples as reviewed: dropped ones out, relabelled and edited ones changed; every sample a person
    decided on carries meta `reviewed: true` (so a student can say how many of its samples were checked)."""
    kept = []
    for example in examples:
        state = reviews.state(example_id(example))
        if state is None:
            kept.append(example)
            continue
        if state.dropped:
            continue
        kept.append(
            Example(
                state.text if state.text is not None else example.text,
                state.label if state.label is not None else example.label,
                example.language,
                {**example.meta, "reviewed": True},
            )
        )
    return kept


def rescued_samples(kept: Iterable[Example], dropped: Iterable[Example], reviews: Reviews) -> list[Example]:
    """Samples the filters dropped that a person kept (a language-ID or teacher-check false alarm, say): they
    train like any other, once each, and never as a second copy of a sample that is already kept."""
    taken = {example_id(example) for example in kept}
    rescued = []
    for example in dropped:
        identifier = example_id(example)
        state = reviews.state(identifier)
        if state is not None and state.dropped is False and identifier not in taken:
            taken.add(identifier)
            rescued.append(example)
    return rescued
