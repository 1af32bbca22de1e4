"""The experiment report's figures: learning curves with intervals and student-minus-teacher heat maps, as SVG
text that is byte-identical for the same inputs. matplotlib is imported lazily: only a report pays its import
time."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synthdistill.errors import SynthdistillError
from synthdistill.experiments.curves import CurvePoint
from synthdistill.experiments.panels import curve_of, grid_of, panel_title, slug, sources_of, students_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SOURCE_LINESTYLES = {"synthetic": "-", "human": "--", "mixed": ":"}
OTHER_SOURCE_LINESTYLE = "-."
# Fixed salt and no date: the same inputs give byte-identical SVG files, so re-runs make no spurious diffs.
SVG_RC = {"svg.hashsalt": "synthdistill-experiment-report", "svg.fonttype": "none"}
SVG_METADATA = {"Date": None}
INSTALL_HINT = "the experiment report needs matplotlib (a dependency of synthdistill): pip install matplotlib"
PANEL_COLUMNS = 4


@dataclass(frozen=True)
class Plot:
    """One rendered figure: where it lives under plots/, its caption, and its SVG text for inlining."""

    name: str  # the file name under plots/
    caption: str
    svg: str


def require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as error:
        raise SynthdistillError(INSTALL_HINT) from error
    return matplotlib


def _svg_text(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata=SVG_METADATA)
    return buffer.getvalue().decode("utf-8")


def _colours(students: Sequence[str]) -> dict[str, Any]:
    import matplotlib

    palette = matplotlib.colormaps["tab10"].colors
    return {student: palette[i % len(palette)] for i, student in enumerate(students)}


def learning_curve_plot(
    task: str,
    points: Sequence[CurvePoint],
    panels: Sequence[str],
    teacher: Mapping[tuple[str, str], float],
    groups: Mapping[str, Sequence[str]],
) -> Plot:
    """One panel per language and group; one line with a CI band per (student, source); teacher as a line."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    students, sources = students_of(points), sources_of(points)
    colours = _colours(students)
    columns = min(PANEL_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(3.3 * columns, 2.7 * rows + 0.9), layout="constrained")
    figure.set_gid(f"learning-curves-{slug(task)}")
    first: Axes | None = None
    for index, language in enumerate(panels):
        ax = figure.add_subplot(rows, columns, index + 1, sharey=first)
        first = first or ax
        _draw_panel(ax, task, language, points, students, sources, colours, teacher.get((task, language)))
        ax.set_title(panel_title(language, groups), fontsize=10)
        if index % columns == 0:
            ax.set_ylabel("macro-F1")
        if index + columns >= len(panels):
            ax.set_xlabel("N (training examples)")
    handles = [
        Line2D([], [], color=colours[student], linestyle=_linestyle(source), label=f"{student} on {source}")
        for student in students
        for source in sources
        if any(p.student == student and p.source == source for p in points)
    ]
    if any((task, language) in teacher for language in panels):
        handles.append(Line2D([], [], color="black", linewidth=1.2, label="teacher"))
    figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6), frameon=False)
    figure.suptitle(
        f"{task}: macro-F1 against training size N (bands: 95% bootstrap interval of the mean)", fontsize=11
    )
    name = f"learning-curves-{slug(task)}.svg"
    return Plot(name, f"Learning curves for {task}", _svg_text(figure))


def _linestyle(source: str) -> str:
    return SOURCE_LINESTYLES.get(source, OTHER_SOURCE_LINESTYLE)


def _draw_panel(
    ax: Axes,
    task: str,
    language: str,
    points: Sequence[CurvePoint],
    students: Sequence[str],
    sources: Sequence[str],
    colours: Mapping[str, Any],
    teacher_score: float | None,
) -> None:
    ax.set_gid(f"panel-{slug(task)}-{slug(language)}")
    for student in students:
        for source in sources:
            curve = curve_of(points, language, student, source)
            if not curve:
                continue
            ns = [p.n for p in curve]
            colour, style = colours[student], _linestyle(source)
            bands = [p.mean_ci or (p.ci_low, p.ci_high) for p in curve]
            lows, highs = ([min(1.0, max(0.0, b[i])) for b in bands] for i in (0, 1))  # macro-F1 is in [0, 1]
            ax.fill_between(ns, lows, highs, color=colour, alpha=0.12)
            ax.plot(ns, [p.mean for p in curve], color=colour, linestyle=style, marker="o", markersize=3)
    if teacher_score is not None:
        line = ax.axhline(teacher_score, color="black", linewidth=1.2)
        line.set_gid(f"teacher-{slug(task)}-{slug(language)}")
    grid = grid_of(p for p in points if p.language == language)
    ax.set_ylim(0, 1)
    ax.set_xscale("log")
    ax.set_xticks(grid, [str(n) for n in grid])
    ax.set_xticks([], minor=True)
    ax.grid(True, alpha=0.3)


def _difference_rows(
    task: str,
    points: Sequence[CurvePoint],
    panels: Sequence[str],
    student: str,
    teacher: Mapping[tuple[str, str], float],
) -> tuple[list[str], list[int], list[list[float]]]:
    """Rows (languages with a teacher score), columns (N) and mean(student on synthetic) - teacher, NaN where
    there is no point."""
    synthetic = [p for p in points if p.student == student and p.source == "synthetic"]
    rows = [name for name in panels if (task, name) in teacher and any(p.language == name for p in synthetic)]
    grid = grid_of(p for p in synthetic if p.language in rows)
    means = {(p.language, p.n): p.mean for p in synthetic}
    values = [
        [means[(name, n)] - teacher[(task, name)] if (name, n) in means else math.nan for n in grid] for name in rows
    ]
    return rows, grid, values


def heatmap_plots(
    task: str,
    points: Sequence[CurvePoint],
    panels: Sequence[str],
    teacher: Mapping[tuple[str, str], float],
    groups: Mapping[str, Sequence[str]],
) -> list[Plot]:
    plots = []
    for student in students_of(points):
        rows, grid, values = _difference_rows(task, points, panels, student, teacher)
        if rows:
            plots.append(_heatmap_plot(task, student, rows, grid, values, groups))
    return plots


def _heatmap_plot(
    task: str,
    student: str,
    rows: Sequence[str],
    grid: Sequence[int],
    values: Sequence[Sequence[float]],
    groups: Mapping[str, Sequence[str]],
) -> Plot:
    """Diverging colours centred at 0 (blue: student above teacher); every cell carries its value as text."""
    import numpy as np
    from matplotlib.figure import Figure

    data = np.ma.masked_invalid(np.array(values, dtype=float))
    limit = max(float(np.abs(data).max()) if data.count() else 0.0, 0.05)
    title, labels = f"{task}: {student} on synthetic minus teacher (macro-F1)", [panel_title(n, groups) for n in rows]
    # wide enough for the row labels and the title (about 0.075 inch a character at these sizes): narrower, the
    # constrained layout shrank the axes to nothing and gave up
    width = max(2.2 + 0.85 * len(grid) + 0.075 * max(map(len, labels)), 1.5 + 0.075 * len(title))
    figure = Figure(figsize=(width, 1.4 + 0.45 * len(rows)), layout="constrained")
    ax = figure.add_subplot()
    ax.set_gid(f"heatmap-{slug(task)}-{slug(student)}")
    mesh = ax.pcolormesh(data, cmap="RdBu", vmin=-limit, vmax=limit, edgecolors="white", linewidth=0.5)
    for i, name in enumerate(rows):
        for j, n in enumerate(grid):
            value = values[i][j]
            if math.isnan(value):
                continue
            text = ax.text(
                j + 0.5, i + 0.5, f"{value:+.2f}", ha="center", va="center", fontsize=8,
                color="white" if abs(value) > 0.6 * limit else "black",
            )  # fmt: skip
            text.set_gid(f"cell-{slug(task)}-{slug(student)}-{slug(name)}-{n}")
    ax.set_xticks([j + 0.5 for j in range(len(grid))], [str(n) for n in grid])
    ax.set_yticks([i + 0.5 for i in range(len(rows))], labels)
    ax.invert_yaxis()
    ax.set_xlabel("N (training examples)")
    ax.set_title(title, fontsize=10)
    figure.colorbar(mesh, ax=ax, label="student − teacher")
    name = f"heatmap-{slug(task)}-{slug(student)}.svg"
    return Plot(name, f"{student} on synthetic minus teacher, {task}", _svg_text(figure))
