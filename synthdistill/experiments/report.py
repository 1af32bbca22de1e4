"""The experiment report: learning curves, student-minus-teacher heat maps and crossover tables, written as
report.md (with SVG plots beside it) and as one self-contained report.html that opens offline anywhere.

Figures are drawn in `plots`, the page rendered in `page`; this module chooses what goes in.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from synthdistill.data import atomic_write_text
from synthdistill.errors import DataError
from synthdistill.evaluation.tables import Table
from synthdistill.experiments.curves import BETTER, WORSE, Crossover, CurvePoint
from synthdistill.experiments.page import Section, render_html, render_markdown
from synthdistill.experiments.panels import check_points, grid_of, panel_names, sources_of, students_of, unique
from synthdistill.experiments.plots import SVG_RC, heatmap_plots, learning_curve_plot, require_matplotlib


def write_experiment_report(
    directory: str | Path,
    *,
    title: str,
    points: Sequence[CurvePoint],
    teacher: Mapping[tuple[str, str], float],
    crossovers: Sequence[Crossover],
    languages: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    notes: Sequence[str] = (),
    cells: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Path]:
    """Write report.md, report.html and plots/*.svg under `directory`; return their paths, keyed by the path
    relative to `directory` ("report.md", "report.html", "plots/learning-curves-topic.svg", ...).

    `teacher[(task, language_or_group)]` is the teacher's macro-F1; where it is missing, a panel has no teacher
    line and a heat map no cell. Points whose language is neither in `languages` nor in `groups` still get a
    panel, after the others, so no curve is silently left out. `cells` (rows of cells.jsonl) give each task a
    table of what a cell cost: training seconds and prediction speed per student.
    """
    matplotlib = require_matplotlib()
    check_points(points)
    directory = Path(directory)
    sections: list[Section] = []
    with matplotlib.rc_context(SVG_RC):
        for task in unique(p.task for p in points):
            task_points = [p for p in points if p.task == task]
            panels = panel_names(task_points, languages, groups)
            plots = [learning_curve_plot(task, task_points, panels, teacher, groups)]
            plots += heatmap_plots(task, task_points, panels, teacher, groups)
            task_crossovers = [c for c in crossovers if c.task == task]
            tables = [(CROSSOVER_HEADING, _crossover_table(task_crossovers, task_points, panels))]
            tables += _mean_tables(task, task_points, panels, teacher)
            task_cells = [c for c in cells if c.get("task") == task and "fit_seconds" in c]
            if task_cells:
                tables.append((COST_HEADING, _cost_table(task_cells)))
            sections.append(Section(task, plots, tables))

    written: dict[str, Path] = {}
    for section in sections:
        for plot in section.plots:
            if f"plots/{plot.name}" in written:
                raise DataError(f"two plots would share the file name {plot.name}: rename a task or student")
            path = directory / "plots" / plot.name
            atomic_write_text(path, plot.svg)
            written[f"plots/{plot.name}"] = path
    for name, content in (
        ("report.md", render_markdown(title, notes, sections)),
        ("report.html", render_html(title, notes, sections)),
    ):
        atomic_write_text(directory / name, content)
        written[name] = directory / name
    return written


CROSSOVER_HEADING = (
    "Crossover: the smallest N at which the student is better than the teacher at 95%, over repeats and test texts"
)
MARKERS = {BETTER: " ▲", WORSE: " ▼"}  # the verdict against the teacher; nothing when not distinguishable


def _crossover_text(crossover: Crossover, grid_max: int | None) -> str:
    """ "50 [20, 100]"; an open upper bound as "> 200" (the grid's largest N); no win as "never within the grid"."""
    beyond = f"> {grid_max}" if grid_max is not None else "beyond the grid"
    high = str(crossover.ci_high) if crossover.ci_high is not None else beyond
    interval = f" [{crossover.ci_low}, {high}]" if crossover.ci_low is not None else ""
    if crossover.n is None:
        return "never within the grid" + interval
    return f"{crossover.n}{interval}"


def _crossover_table(crossovers: Sequence[Crossover], points: Sequence[CurvePoint], panels: Sequence[str]) -> Table:
    students, sources = students_of(points), sources_of(points)

    def order(c: Crossover) -> tuple[int, int, int]:
        def rank(items: Sequence[str], item: str) -> int:
            return items.index(item) if item in items else len(items)

        return rank(panels, c.language), rank(students, c.student), rank(sources, c.source)

    rows = []
    for c in sorted(crossovers, key=order):
        grid = grid_of(p for p in points if (p.language, p.student, p.source) == (c.language, c.student, c.source))
        grid_max = grid[-1] if grid else None
        n_mean = str(c.n_mean) if c.n_mean is not None else "never within the grid"
        rows.append([c.language, c.student, c.source, f"{c.teacher:.3f}", _crossover_text(c, grid_max), n_mean])
    headers = ["language", "student", "source", "teacher macro-F1", "crossover N [95% interval]",
               "first N with mean above teacher"]  # fmt: skip
    return Table(headers, rows, [False, False, False, True, True, True])


def _mean_tables(
    task: str, points: Sequence[CurvePoint], panels: Sequence[str], teacher: Mapping[tuple[str, str], float]
) -> list[tuple[str, Table]]:
    """Mean ± std of macro-F1 per language and N, marked with its verdict against the teacher, one table per
    (student, source)."""
    tables = []
    for student in students_of(points):
        for source in sources_of(points):
            curve_points = [p for p in points if p.student == student and p.source == source]
            if not curve_points:
                continue
            grid = grid_of(curve_points)
            cells = {
                (p.language, p.n): f"{p.mean:.3f} ± {p.std:.3f}{MARKERS.get(p.verdict or '', '')}" for p in curve_points
            }
            rows = []
            for name in panels:
                if any(p.language == name for p in curve_points):
                    score = teacher.get((task, name))
                    teacher_cell = f"{score:.3f}" if score is not None else "–"
                    rows.append([name, teacher_cell, *(cells.get((name, n), "–") for n in grid)])
            heading = (
                f"{student} on {source}: macro-F1 mean ± std ({_repeats_text(curve_points)}; ▲ better, ▼ worse than "
                "the teacher at 95% over repeats and test texts)"
            )
            tables.append(
                (heading, Table(["language", "teacher", *map(str, grid)], rows, [False] + [True] * (1 + len(grid))))
            )
    return tables


COST_HEADING = (
    "Cost per cell on the machine that ran it: median training seconds per N (all languages, sources and repeats), "
    "median prediction speed on the test split (over the cells that computed at least half their predictions "
    "rather than replaying them from a cache, counting the texts computed), and the largest peak resident memory of "
    "a cell that ran first in its worker process (a later cell's peak counts what earlier ones left resident)"
)


def _cost_table(cells: Sequence[Mapping[str, Any]]) -> Table:
    grid = sorted({int(c["n"]) for c in cells})
    rows = []
    for student in unique(str(c["student"]) for c in cells):
        mine = [c for c in cells if c["student"] == student]
        seconds = {n: [float(c["fit_seconds"]) for c in mine if c["n"] == n] for n in grid}
        speeds = [_computed_texts_per_second(c) for c in mine]
        speeds = [speed for speed in speeds if speed is not None]
        peaks = [c["peak_rss_mb"] for c in mine if c.get("peak_rss_mb") and c.get("process_cells_before") == 0]
        rows.append([
            student, str(len(mine)),
            *(f"{statistics.median(seconds[n]):,.1f}" if seconds[n] else "–" for n in grid),
            f"{statistics.median(speeds):,.1f}" if speeds else "–", f"{max(peaks):,.0f}" if peaks else "–",
        ])  # fmt: skip
    headers = ["student", "cells", *(f"training s, N={n}" for n in grid), "test texts/s", "peak MB"]
    return Table(headers, rows, [False] + [True] * (len(headers) - 1))


def _computed_texts_per_second(cell: Mapping[str, Any]) -> float | None:
    """Test texts computed per second; None for a cell a cache mostly answered, or one stored before cells
    recorded their replayed share (its speed may be a cache's)."""
    replayed = cell.get("predict_replayed_share")
    if replayed is None or replayed > 0.5 or not cell.get("predict_seconds"):
        return None
    return cell["n_test"] * (1 - replayed) / cell["predict_seconds"]


def _repeats_text(points: Sequence[CurvePoint]) -> str:
    low, high = min(p.repeats for p in points), max(p.repeats for p in points)
    return f"{low} repeats" if low == high else f"{low}–{high} repeats"
