"""The experiment report: learning curves, student-minus-teacher heat maps and crossover tables, written as
report.md (with SVG plots beside it) and as one self-contained report.html that opens offline anywhere.

matplotlib is imported lazily: only a report pays its import time.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthdistill.data import atomic_write_text
from synthdistill.errors import DataError, SynthdistillError
from synthdistill.experiments.curves import Crossover, CurvePoint

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SOURCE_ORDER = ("synthetic", "human", "mixed")
SOURCE_LINESTYLES = {"synthetic": "-", "human": "--", "mixed": ":"}
OTHER_SOURCE_LINESTYLE = "-."
# Fixed salt and no date: the same inputs give byte-identical SVG files, so re-runs make no spurious diffs.
SVG_RC = {"svg.hashsalt": "synthdistill-experiment-report", "svg.fonttype": "none"}
SVG_METADATA = {"Date": None}
INSTALL_HINT = "the experiment report needs matplotlib (a dependency of synthdistill): pip install matplotlib"
PANEL_COLUMNS = 4


@dataclass(frozen=True)
class Table:
    """One table, rendered both as Markdown and as HTML so the two reports never disagree."""

    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # right-aligned columns


@dataclass(frozen=True)
class Plot:
    """One rendered figure: where it lives under plots/, its caption, and its SVG text for inlining."""

    name: str  # the file name under plots/
    caption: str
    svg: str


@dataclass(frozen=True)
class Section:
    """One task's part of the report: its plots, then its (heading, table) pairs."""

    task: str
    plots: list[Plot]
    tables: list[tuple[str, Table]]


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
) -> dict[str, Path]:
    """Write report.md, report.html and plots/*.svg under `directory`; return their paths, keyed by the path
    relative to `directory` ("report.md", "report.html", "plots/learning-curves-topic.svg", ...).

    `teacher[(task, language_or_group)]` is the teacher's macro-F1; where it is missing, a panel has no teacher
    line and a heat map no cell. Points whose language is neither in `languages` nor in `groups` still get a
    panel, after the others, so no curve is silently left out.
    """
    matplotlib = _require_matplotlib()
    _check_points(points)
    directory = Path(directory)
    sections: list[Section] = []
    with matplotlib.rc_context(SVG_RC):
        for task in _unique(p.task for p in points):
            task_points = [p for p in points if p.task == task]
            panels = _panel_names(task_points, languages, groups)
            plots = [_learning_curve_plot(task, task_points, panels, teacher, groups)]
            plots += _heatmap_plots(task, task_points, panels, teacher, groups)
            task_crossovers = [c for c in crossovers if c.task == task]
            heading = "Crossover: the smallest N at which the student's mean beats the teacher"
            tables = [(heading, _crossover_table(task_crossovers, task_points, panels))]
            tables += _mean_tables(task, task_points, panels, teacher)
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
        ("report.md", _render_markdown(title, notes, sections)),
        ("report.html", _render_html(title, notes, sections)),
    ):
        atomic_write_text(directory / name, content)
        written[name] = directory / name
    return written


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as error:
        raise SynthdistillError(INSTALL_HINT) from error
    return matplotlib


def _check_points(points: Sequence[CurvePoint]) -> None:
    if not points:
        raise DataError("no learning-curve points to report")
    bad = [p for p in points if p.n < 1]
    if bad:
        raise DataError(f"training size N must be at least 1 (log-scale axis); got N={bad[0].n} for {bad[0]}")


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _slug(text: str) -> str:
    """File names and SVG ids: keep them to characters that are safe in both."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def _panel_names(
    points: Sequence[CurvePoint], languages: Sequence[str], groups: Mapping[str, Sequence[str]]
) -> list[str]:
    """Languages in display order, then groups, then anything else the points hold (such as "all")."""
    present = _unique(p.language for p in points)
    ordered = [name for name in [*languages, *groups] if name in present]
    return _unique([*ordered, *present])


def _panel_title(name: str, groups: Mapping[str, Sequence[str]]) -> str:
    if name not in groups:
        return name
    members = list(groups[name])
    shown = ", ".join(members[:4]) + (f", +{len(members) - 4}" if len(members) > 4 else "")
    return f"{name} ({shown})"


def _students(points: Sequence[CurvePoint]) -> list[str]:
    return _unique(p.student for p in points)


def _sources(points: Sequence[CurvePoint]) -> list[str]:
    present = _unique(p.source for p in points)
    return [s for s in SOURCE_ORDER if s in present] + [s for s in present if s not in SOURCE_ORDER]


def _curve(points: Sequence[CurvePoint], language: str, student: str, source: str) -> list[CurvePoint]:
    return sorted(
        (p for p in points if (p.language, p.student, p.source) == (language, student, source)), key=lambda p: p.n
    )


def _grid(points: Iterable[CurvePoint]) -> list[int]:
    return sorted({p.n for p in points})


# --- plots -------------------------------------------------------------------------------------------------


def _svg_text(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata=SVG_METADATA)
    return buffer.getvalue().decode("utf-8")


def _colours(students: Sequence[str]) -> dict[str, Any]:
    import matplotlib

    palette = matplotlib.colormaps["tab10"].colors
    return {student: palette[i % len(palette)] for i, student in enumerate(students)}


def _learning_curve_plot(
    task: str,
    points: Sequence[CurvePoint],
    panels: Sequence[str],
    teacher: Mapping[tuple[str, str], float],
    groups: Mapping[str, Sequence[str]],
) -> Plot:
    """One panel per language and group; one line with a CI band per (student, source); teacher as a line."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    students, sources = _students(points), _sources(points)
    colours = _colours(students)
    columns = min(PANEL_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(3.3 * columns, 2.7 * rows + 0.9), layout="constrained")
    figure.set_gid(f"learning-curves-{_slug(task)}")
    first: Axes | None = None
    for index, language in enumerate(panels):
        ax = figure.add_subplot(rows, columns, index + 1, sharey=first)
        first = first or ax
        _draw_panel(ax, task, language, points, students, sources, colours, teacher.get((task, language)))
        ax.set_title(_panel_title(language, groups), fontsize=10)
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
    figure.suptitle(f"{task}: macro-F1 against training size N (bands: 95% CI of the mean)", fontsize=11)
    name = f"learning-curves-{_slug(task)}.svg"
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
    ax.set_gid(f"panel-{_slug(task)}-{_slug(language)}")
    for student in students:
        for source in sources:
            curve = _curve(points, language, student, source)
            if not curve:
                continue
            ns = [p.n for p in curve]
            colour, style = colours[student], _linestyle(source)
            ax.fill_between(ns, [p.ci_low for p in curve], [p.ci_high for p in curve], color=colour, alpha=0.15)
            ax.plot(ns, [p.mean for p in curve], color=colour, linestyle=style, marker="o", markersize=3)
    if teacher_score is not None:
        line = ax.axhline(teacher_score, color="black", linewidth=1.2)
        line.set_gid(f"teacher-{_slug(task)}-{_slug(language)}")
    grid = _grid(p for p in points if p.language == language)
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
    grid = _grid(p for p in synthetic if p.language in rows)
    means = {(p.language, p.n): p.mean for p in synthetic}
    values = [
        [means[(name, n)] - teacher[(task, name)] if (name, n) in means else math.nan for n in grid] for name in rows
    ]
    return rows, grid, values


def _heatmap_plots(
    task: str,
    points: Sequence[CurvePoint],
    panels: Sequence[str],
    teacher: Mapping[tuple[str, str], float],
    groups: Mapping[str, Sequence[str]],
) -> list[Plot]:
    plots = []
    for student in _students(points):
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
    figure = Figure(figsize=(2.2 + 0.85 * len(grid), 1.4 + 0.45 * len(rows)), layout="constrained")
    ax = figure.add_subplot()
    ax.set_gid(f"heatmap-{_slug(task)}-{_slug(student)}")
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
            text.set_gid(f"cell-{_slug(task)}-{_slug(student)}-{_slug(name)}-{n}")
    ax.set_xticks([j + 0.5 for j in range(len(grid))], [str(n) for n in grid])
    ax.set_yticks([i + 0.5 for i in range(len(rows))], [_panel_title(name, groups) for name in rows])
    ax.invert_yaxis()
    ax.set_xlabel("N (training examples)")
    ax.set_title(f"{task}: {student} on synthetic minus teacher (macro-F1)", fontsize=10)
    figure.colorbar(mesh, ax=ax, label="student − teacher")
    name = f"heatmap-{_slug(task)}-{_slug(student)}.svg"
    return Plot(name, f"{student} on synthetic minus teacher, {task}", _svg_text(figure))


# --- tables ------------------------------------------------------------------------------------------------


def _crossover_text(crossover: Crossover, grid_max: int | None) -> str:
    """ "50 [20, 100]"; an open upper bound as "> 200" (the grid's largest N); no win as "never within the grid"."""
    beyond = f"> {grid_max}" if grid_max is not None else "beyond the grid"
    high = str(crossover.ci_high) if crossover.ci_high is not None else beyond
    interval = f" [{crossover.ci_low}, {high}]" if crossover.ci_low is not None else ""
    if crossover.n is None:
        return "never within the grid" + interval
    return f"{crossover.n}{interval}"


def _crossover_table(crossovers: Sequence[Crossover], points: Sequence[CurvePoint], panels: Sequence[str]) -> Table:
    students, sources = _students(points), _sources(points)

    def order(c: Crossover) -> tuple[int, int, int]:
        def rank(items: Sequence[str], item: str) -> int:
            return items.index(item) if item in items else len(items)

        return rank(panels, c.language), rank(students, c.student), rank(sources, c.source)

    rows = []
    for c in sorted(crossovers, key=order):
        grid = _grid(p for p in points if (p.language, p.student, p.source) == (c.language, c.student, c.source))
        grid_max = grid[-1] if grid else None
        rows.append([c.language, c.student, c.source, f"{c.teacher:.3f}", _crossover_text(c, grid_max)])
    headers = ["language", "student", "source", "teacher macro-F1", "crossover N [95% interval]"]
    return Table(headers, rows, [False, False, False, True, True])


def _mean_tables(
    task: str, points: Sequence[CurvePoint], panels: Sequence[str], teacher: Mapping[tuple[str, str], float]
) -> list[tuple[str, Table]]:
    """Mean ± std of macro-F1 per language and N, one table per (student, source)."""
    tables = []
    for student in _students(points):
        for source in _sources(points):
            curve_points = [p for p in points if p.student == student and p.source == source]
            if not curve_points:
                continue
            grid = _grid(curve_points)
            cells = {(p.language, p.n): f"{p.mean:.3f} ± {p.std:.3f}" for p in curve_points}
            rows = []
            for name in panels:
                if any(p.language == name for p in curve_points):
                    score = teacher.get((task, name))
                    teacher_cell = f"{score:.3f}" if score is not None else "–"
                    rows.append([name, teacher_cell, *(cells.get((name, n), "–") for n in grid)])
            heading = f"{student} on {source}: macro-F1 mean ± std ({_repeats_text(curve_points)})"
            tables.append(
                (heading, Table(["language", "teacher", *map(str, grid)], rows, [False] + [True] * (1 + len(grid))))
            )
    return tables


def _repeats_text(points: Sequence[CurvePoint]) -> str:
    low, high = min(p.repeats for p in points), max(p.repeats for p in points)
    return f"{low} repeats" if low == high else f"{low}–{high} repeats"


# --- Markdown ----------------------------------------------------------------------------------------------


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown_table(table: Table) -> str:
    lines = ["| " + " | ".join(_markdown_cell(h) for h in table.headers) + " |"]
    lines.append("|" + "|".join("---:" if numeric else "---" for numeric in table.numeric) + "|")
    lines += ["| " + " | ".join(_markdown_cell(cell) for cell in row) + " |" for row in table.rows]
    return "\n".join(lines)


def _render_markdown(title: str, notes: Sequence[str], sections: Sequence[Section]) -> str:
    parts = [f"# {title}", ""]
    if notes:
        parts += [*(f"- {note}" for note in notes), ""]
    for section in sections:
        parts += [f"## Task: {section.task}", ""]
        for plot in section.plots:
            parts += [f"![{plot.caption}](plots/{plot.name})", ""]
        for heading, table in section.tables:
            parts += [f"### {heading}", ""]
            parts += [_markdown_table(table) if table.rows else "(none)", ""]
    return "\n".join(parts)


# --- HTML --------------------------------------------------------------------------------------------------

# The CSP makes "self-contained" a property the browser enforces: any external fetch would be blocked and logged.
HTML_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 80rem;
  padding: 0 1rem; color: #222; }}
figure {{ margin: 1.5rem 0; }}
figure svg {{ max-width: 100%; height: auto; }}
figcaption {{ color: #555; font-size: 0.9rem; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }}
th, td {{ border: 1px solid #ccc; padding: 0.25rem 0.6rem; }}
th {{ background: #f3f3f3; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
</style>
</head>
<body>
<main>
"""
HTML_TAIL = "</main>\n</body>\n</html>\n"


def _html_table(table: Table) -> str:
    def cell(tag: str, text: str, numeric: bool) -> str:
        return f'<{tag} class="num">{html.escape(text)}</{tag}>' if numeric else f"<{tag}>{html.escape(text)}</{tag}>"

    head = "".join(cell("th", h, numeric) for h, numeric in zip(table.headers, table.numeric, strict=True))
    body = "\n".join(
        "<tr>" + "".join(cell("td", c, numeric) for c, numeric in zip(row, table.numeric, strict=True)) + "</tr>"
        for row in table.rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _inline_svg(svg: str, prefix: str) -> str:
    """The SVG element alone, its ids prefixed: several figures in one page must not share clip-path or
    group ids. Only tags are rewritten, never text, so data that looks like an id stays as written."""
    body = re.sub(r"<metadata>.*?</metadata>\s*", "", svg[svg.index("<svg") :], flags=re.DOTALL)

    def fix_tag(match: re.Match[str]) -> str:
        tag = re.sub(r'(\sid=")', rf"\g<1>{prefix}", match.group(0))
        return re.sub(r'(href="#|url\(#)', rf"\g<1>{prefix}", tag)

    return re.sub(r"<[^<>]+>", fix_tag, body)


def _render_html(title: str, notes: Sequence[str], sections: Sequence[Section]) -> str:
    parts = [HTML_HEAD.format(title=html.escape(title)), f"<h1>{html.escape(title)}</h1>"]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(note)}</li>" for note in notes) + "</ul>")
    for section in sections:
        parts.append(f"<section>\n<h2>Task: {html.escape(section.task)}</h2>")
        for plot in section.plots:
            svg = _inline_svg(plot.svg, prefix=f"{Path(plot.name).stem}-")
            parts.append(f"<figure>\n{svg}\n<figcaption>{html.escape(plot.caption)}</figcaption>\n</figure>")
        for heading, table in section.tables:
            parts.append(f"<h3>{html.escape(heading)}</h3>")
            parts.append(_html_table(table) if table.rows else "<p>(none)</p>")
        parts.append("</section>")
    return "\n".join(parts) + "\n" + HTML_TAIL
