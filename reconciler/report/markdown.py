"""Small Markdown building blocks shared by the plan and status reports (GitHub-flavoured)."""

from __future__ import annotations

from collections.abc import Sequence


def cell(text: str) -> str:
    """Text safe inside a table cell: pipes escaped, line breaks flattened."""
    return " ".join(text.replace("|", "\\|").split())


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()
) -> str:
    """A pipe table; the columns in `numeric` are right-aligned."""
    align = ["---:" if i in numeric else "---" for i in range(len(headers))]
    lines = [headers, align, *([cell(c) for c in row] for row in rows)]
    return "".join(f"| {' | '.join(line)} |\n" for line in lines)


def details(summary: str, body: str) -> str:
    """A collapsed section: GitHub shows `summary` and unfolds `body` on a click."""
    return f"<details><summary>{summary}</summary>\n\n{body}\n</details>\n"
