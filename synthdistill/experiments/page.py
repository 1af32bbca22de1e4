"""The experiment report's two renderings of the same sections: report.md and one self-contained report.html
(plots inlined, a content security policy that blocks any fetch), so the two never disagree."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from synthdistill.evaluation.tables import Table, markdown_table
from synthdistill.experiments.plots import Plot


@dataclass(frozen=True)
class Section:
    """One task's part of the report: its plots, then its (heading, table) pairs."""

    task: str
    plots: list[Plot]
    tables: list[tuple[str, Table]]


def render_markdown(title: str, notes: Sequence[str], sections: Sequence[Section]) -> str:
    parts = [f"# {title}", ""]
    if notes:
        parts += [*(f"- {note}" for note in notes), ""]
    for section in sections:
        parts += [f"## Task: {section.task}", ""]
        for plot in section.plots:
            parts += [f"![{plot.caption}](plots/{plot.name})", ""]
        for heading, table in section.tables:
            parts += [f"### {heading}", ""]
            parts += [markdown_table(table) if table.rows else "(none)", ""]
    return "\n".join(parts)


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


def render_html(title: str, notes: Sequence[str], sections: Sequence[Section]) -> str:
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
