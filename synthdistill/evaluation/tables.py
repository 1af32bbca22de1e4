"""One table, rendered as Markdown here (and as HTML by the experiment page), for every report."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """Headers, rows of cell text, and which columns are numbers (right-aligned)."""

    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # right-aligned columns


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(table: Table) -> str:
    """A pipe table; a `|` or line break inside a cell is escaped so it never splits the row."""
    lines = ["| " + " | ".join(_markdown_cell(h) for h in table.headers) + " |"]
    lines.append("|" + "|".join("---:" if numeric else "---" for numeric in table.numeric) + "|")
    lines += ["| " + " | ".join(_markdown_cell(cell) for cell in row) + " |" for row in table.rows]
    return "\n".join(lines)
