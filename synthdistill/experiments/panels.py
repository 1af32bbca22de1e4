"""What the experiment report shows: panels (languages, then language groups) and the curves in each, by student
and source, in a stable order."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from synthdistill.errors import DataError
from synthdistill.experiments.curves import CurvePoint

SOURCE_ORDER = ("synthetic", "human", "mixed")


def check_points(points: Sequence[CurvePoint]) -> None:
    if not points:
        raise DataError("no learning-curve points to report")
    bad = [p for p in points if p.n < 1]
    if bad:
        raise DataError(f"training size N must be at least 1 (log-scale axis); got N={bad[0].n} for {bad[0]}")


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def slug(text: str) -> str:
    """File names and SVG ids: keep them to characters that are safe in both."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def panel_names(
    points: Sequence[CurvePoint], languages: Sequence[str], groups: Mapping[str, Sequence[str]]
) -> list[str]:
    """Languages in display order, then groups, then anything else the points hold (such as "all")."""
    present = unique(p.language for p in points)
    ordered = [name for name in [*languages, *groups] if name in present]
    return unique([*ordered, *present])


def panel_title(name: str, groups: Mapping[str, Sequence[str]]) -> str:
    if name not in groups:
        return name
    members = list(groups[name])
    shown = ", ".join(members[:4]) + (f", +{len(members) - 4}" if len(members) > 4 else "")
    return f"{name} ({shown})"


def students_of(points: Sequence[CurvePoint]) -> list[str]:
    return unique(p.student for p in points)


def sources_of(points: Sequence[CurvePoint]) -> list[str]:
    present = unique(p.source for p in points)
    return [s for s in SOURCE_ORDER if s in present] + [s for s in present if s not in SOURCE_ORDER]


def curve_of(points: Sequence[CurvePoint], language: str, student: str, source: str) -> list[CurvePoint]:
    return sorted(
        (p for p in points if (p.language, p.student, p.source) == (language, student, source)), key=lambda p: p.n
    )


def grid_of(points: Iterable[CurvePoint]) -> list[int]:
    return sorted({p.n for p in points})
