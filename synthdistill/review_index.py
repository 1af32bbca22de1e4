"""The review page's view of a run folder: every synthetic sample, kept or dropped by the filters, with a person's
decisions applied, held in columns so that filtering 100,000 samples is a few array operations.

Samples are read once (synthetic.jsonl, then dropped.jsonl); decisions change only the state columns of the
samples they name. A dropped sample that is an exact copy of a kept one (same id) is not listed twice.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthdistill.data import Example, read_dropped, read_examples
from synthdistill.errors import DataError
from synthdistill.reviews import Decision, Reviews, example_id

PERSON = "person"  # the drop reason of samples a person dropped
STATUSES = ("all", "kept", "dropped", "reviewed", "unreviewed")
UNDECIDED, KEPT, DROPPED = 0, 1, 2
NEIGHBOURS = 3
NEIGHBOUR_FEATURES = 2**20
PROVENANCE = ("teacher", "served_model", "template", "n_demos", "round", "attribute", "sample_index", "prompt_hash",
              "position", "source_language", "seed")  # fmt: skip


@dataclass(frozen=True)
class Filter:
    """What the page asks for; empty fields do not filter. Confidence: the teacher's probability of the sample's
    label (current, after a relabel); samples the teacher did not score never pass a confidence bound."""

    language: str = ""
    label: str = ""
    status: str = "all"
    reason: str = ""
    min_confidence: float | None = None
    max_confidence: float | None = None
    query: str = ""

    def check(self, languages: Sequence[str], labels: Sequence[str], reasons: Sequence[str]) -> None:
        choices = {"language": languages, "label": labels, "reason": [*reasons, PERSON], "status": STATUSES}
        for name, known in choices.items():
            value = getattr(self, name)
            if value and value not in known:
                raise ValueError(f"unknown {name} {value!r}")
        for name in ("min_confidence", "max_confidence"):
            value = getattr(self, name)
            if value is not None and not (0 <= value <= 1):
                raise ValueError(f"{name} must be between 0 and 1")


class ReviewIndex:
    """The samples of one run folder and their review state. Not thread-safe on its own: the server serialises
    decisions on one lock."""

    def __init__(self, synthetic: Sequence[Example], dropped: Sequence[Example], labels: Sequence[str],
                 reviews: Reviews, build_matrix: Callable[[list[str]], Any] | None = None):  # fmt: skip
        """`build_matrix`: how a language's 5-gram matrix is made (default `five_gram_matrix`, here; the server
        makes it in another process, so that a large language does not hold the page's requests up)."""
        self.labels = list(labels)
        ids = [example_id(e) for e in synthetic]
        seen = set(ids)
        rows = list(synthetic)
        self.hidden_copies = 0
        for example in dropped:
            identifier = example_id(example)
            if identifier in seen:
                self.hidden_copies += 1
                continue
            seen.add(identifier)
            ids.append(identifier)
            rows.append(example)
        order = sorted(range(len(rows)), key=lambda i: (rows[i].language or "", rows[i].label, i))
        self.samples = [rows[i] for i in order]
        self.ids = [ids[i] for i in order]
        self.position = {identifier: i for i, identifier in enumerate(self.ids)}
        self.languages = sorted({e.language or "" for e in self.samples})
        self.reasons = sorted({str(e.meta["reason"]) for e in self.samples if "reason" in e.meta})
        size = len(self.samples)
        label_code = {label: i for i, label in enumerate(self.labels)}
        self.language = np.array([self.languages.index(e.language or "") for e in self.samples], dtype=np.int16)
        self.generated_label = np.array([label_code[e.label] for e in self.samples], dtype=np.int16)
        self.filter_reason = np.array(
            [self.reasons.index(str(e.meta["reason"])) if "reason" in e.meta else -1 for e in self.samples],
            dtype=np.int16,
        )
        # the teacher's probability of each label, NaN where it did not score the sample
        self.probabilities = np.full((size, len(self.labels)), np.nan, dtype=np.float32)
        for row, example in enumerate(self.samples):
            scored = example.meta.get("teacher_probabilities")
            if isinstance(scored, dict):
                for label, probability in scored.items():
                    if label in label_code and isinstance(probability, int | float):
                        self.probabilities[row, label_code[label]] = probability
        self.label = self.generated_label.copy()
        self.person = np.zeros(size, dtype=np.int8)
        self.edited = np.zeros(size, dtype=bool)
        self.texts = [e.text for e in self.samples]
        self.folded = [text.casefold() for text in self.texts]
        self.reviews = reviews
        for identifier in reviews.decisions:
            if identifier in self.position:
                self._refresh(self.position[identifier])
        self._neighbours: dict[int, tuple[Any, np.ndarray, np.ndarray]] = {}
        self._neighbour_lock = threading.Lock()
        self._build_matrix = build_matrix or five_gram_matrix

    @classmethod
    def from_folder(cls, folder: str | Path, labels: Sequence[str], reviews: Reviews,
                    build_matrix: Callable[[list[str]], Any] | None = None) -> ReviewIndex:  # fmt: skip
        folder = Path(folder)
        synthetic_file = folder / "synthetic.jsonl"
        if not folder.is_dir():
            raise DataError(f"{folder}: not a folder; give a run's output folder")
        if not synthetic_file.is_file():
            raise DataError(f"{folder}: no synthetic.jsonl here (run `synthdistill generate` first)")
        # a run whose filters dropped everything leaves synthetic.jsonl empty: then the dropped ones are the review
        empty = not synthetic_file.read_bytes().strip()
        synthetic = [] if empty else read_examples(synthetic_file, labels)
        return cls(synthetic, read_dropped(folder / "dropped.jsonl", labels), labels, reviews, build_matrix)

    # --- state -------------------------------------------------------------------------------------------------

    def _refresh(self, row: int) -> None:
        state = self.reviews.state(self.ids[row])
        self.person[row] = UNDECIDED if state is None or state.dropped is None else (DROPPED if state.dropped else KEPT)
        label = state.label if state is not None and state.label is not None else None
        self.label[row] = self.labels.index(label) if label is not None else self.generated_label[row]
        text = state.text if state is not None and state.text is not None else None
        self.edited[row] = text is not None
        self.texts[row] = text if text is not None else self.samples[row].text
        self.folded[row] = self.texts[row].casefold()

    def apply(self, decisions: Iterable[Decision]) -> None:
        """Decisions already written to the log, now shown."""
        touched = set()
        for decision in decisions:
            self.reviews.add(decision)
            touched.add(decision.id)
        for identifier in touched:
            if identifier in self.position:
                self._refresh(self.position[identifier])

    def kept(self, rows: Any = slice(None)) -> np.ndarray:
        """Whether each sample (of `rows`) would train now: kept by the filters and not dropped by a person, or
        kept by one."""
        person = self.person[rows]
        return ((self.filter_reason[rows] < 0) & (person != DROPPED)) | (person == KEPT)

    def reviewed(self) -> np.ndarray:
        return (self.person != UNDECIDED) | self.edited | (self.label != self.generated_label)

    def confidence(self) -> np.ndarray:
        return self.probabilities[np.arange(len(self.samples)), self.label]

    # --- queries -----------------------------------------------------------------------------------------------

    def select(self, wanted: Filter) -> np.ndarray:
        """The rows (in listing order) that pass the filter."""
        wanted.check(self.languages, self.labels, self.reasons)
        mask = np.ones(len(self.samples), dtype=bool)
        if wanted.language:
            mask &= self.language == self.languages.index(wanted.language)
        if wanted.label:
            mask &= self.label == self.labels.index(wanted.label)
        if wanted.status in ("kept", "dropped"):
            kept = self.kept()
            mask &= kept if wanted.status == "kept" else ~kept
        elif wanted.status in ("reviewed", "unreviewed"):
            reviewed = self.reviewed()
            mask &= reviewed if wanted.status == "reviewed" else ~reviewed
        if wanted.reason == PERSON:
            mask &= self.person == DROPPED
        elif wanted.reason:
            mask &= self.filter_reason == self.reasons.index(wanted.reason)
        if wanted.min_confidence is not None or wanted.max_confidence is not None:
            confidence = self.confidence()
            with np.errstate(invalid="ignore"):  # NaN (not scored) compares False: never passes a bound
                if wanted.min_confidence is not None:
                    mask &= confidence >= wanted.min_confidence
                if wanted.max_confidence is not None:
                    mask &= confidence <= wanted.max_confidence
        rows = np.flatnonzero(mask)
        query = wanted.query.strip().casefold()
        if query:
            folded = self.folded
            rows = np.array([row for row in rows.tolist() if query in folded[row]], dtype=np.int64)
        return rows

    def row(self, row: int) -> dict[str, Any]:
        """One sample as the list shows it."""
        example = self.samples[row]
        reason = example.meta.get("reason")
        probability = float(self.probabilities[row, self.label[row]])
        return {
            "id": self.ids[row], "text": self.texts[row], "language": example.language or "",
            "label": self.labels[self.label[row]], "generated_label": example.label,
            "filter_reason": reason, "person": ("undecided", "kept", "dropped")[self.person[row]],
            "edited": bool(self.edited[row]), "kept": bool(self.kept(row)),
            "confidence": None if math.isnan(probability) else probability,
        }  # fmt: skip

    def page(self, wanted: Filter, offset: int, limit: int) -> dict[str, Any]:
        rows = self.select(wanted)
        offset = max(0, min(offset, max(len(rows) - 1, 0)))
        return {"total": len(rows), "offset": offset,
                "rows": [self.row(int(r)) for r in rows[offset : offset + limit]]}  # fmt: skip

    def detail(self, identifier: str) -> dict[str, Any]:
        """Everything known about one sample: its row, provenance, the teacher's probabilities, its decisions."""
        row = self.position[identifier]
        example = self.samples[row]
        scored = self.probabilities[row]
        decisions = [d.to_dict() for d in self.reviews.decisions.get(identifier, [])]
        return {
            **self.row(row),
            "generated_text": example.text,
            "provenance": {key: example.meta[key] for key in PROVENANCE if key in example.meta},
            "probabilities": None if np.isnan(scored).all() else
                {label: float(p) for label, p in zip(self.labels, scored, strict=True) if not np.isnan(p)},
            "decisions": decisions,
        }  # fmt: skip

    def summary(self) -> list[dict[str, Any]]:
        """Per language and label (as labelled now): how many samples, how many reviewed, and what share a person
        dropped or relabelled; plus how many the filters dropped."""
        groups = self.language.astype(np.int64) * len(self.labels) + self.label
        size = len(self.languages) * len(self.labels)

        def count(mask: np.ndarray | None = None) -> np.ndarray:
            return np.bincount(groups, weights=None if mask is None else mask.astype(np.float64), minlength=size)

        total, reviewed = count(), count(self.reviewed())
        person_dropped, relabelled = count(self.person == DROPPED), count(self.label != self.generated_label)
        filtered, kept = count(self.filter_reason >= 0), count(self.kept())
        rows = []
        for group in np.flatnonzero(total):
            language, label = divmod(int(group), len(self.labels))
            rows.append({
                "language": self.languages[language], "label": self.labels[label], "samples": int(total[group]),
                "kept": int(kept[group]), "dropped_by_filters": int(filtered[group]),
                "reviewed": int(reviewed[group]),
                "dropped_by_person_share": float(person_dropped[group] / reviewed[group]) if reviewed[group] else None,
                "relabelled_share": float(relabelled[group] / reviewed[group]) if reviewed[group] else None,
            })  # fmt: skip
        return rows

    # --- near-duplicate neighbours -----------------------------------------------------------------------------

    def neighbours(self, identifier: str, k: int = NEIGHBOURS) -> list[dict[str, Any]]:
        """The `k` samples of the same language most alike in character 5-grams (Jaccard, as the near-duplicate
        filter measures it, over hashed 5-grams), built once per language on first use."""
        row = self.position[identifier]
        language = int(self.language[row])
        matrix, sizes, rows = self._language_matrix(language)
        where = int(np.searchsorted(rows, row))
        overlap = (matrix @ matrix[where].T).toarray().ravel()
        jaccard = overlap / np.maximum(sizes + sizes[where] - overlap, 1)
        jaccard[where] = -1
        best = np.argsort(-jaccard, kind="stable")[:k]
        return [{**self.row(int(rows[i])), "similarity": round(float(jaccard[i]), 3)} for i in best if jaccard[i] > 0]

    def _language_matrix(self, language: int) -> tuple[Any, np.ndarray, np.ndarray]:
        with self._neighbour_lock:
            if language not in self._neighbours:
                rows = np.flatnonzero(self.language == language)
                matrix = self._build_matrix([self.samples[r].text for r in rows])
                sizes = np.asarray(matrix.sum(axis=1)).ravel()
                self._neighbours[language] = (matrix, sizes, rows)
            return self._neighbours[language]


def five_gram_matrix(texts: list[str]) -> Any:
    """One row per text: which hashed character 5-grams it holds (0/1), as the near-duplicate filter sees text."""
    from sklearn.feature_extraction.text import HashingVectorizer

    from synthdistill.generation.near_duplicates import comparable_text

    vectorizer = HashingVectorizer(analyzer="char", ngram_range=(5, 5), preprocessor=comparable_text,
                                   n_features=NEIGHBOUR_FEATURES, binary=True, norm=None, alternate_sign=False,
                                   dtype=np.float32)  # fmt: skip
    return vectorizer.transform(texts).tocsr()
