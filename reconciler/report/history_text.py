"""`orc history` as a terminal table or Markdown: one row per event, oldest first."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from reconciler.report import markdown, style
from reconciler.report.history import History, HistoryEvent

HEADERS = ("Time", "Kind", "Instance", "What", "Outcome", "Detail")
_GOOD = {"done", "up", "ok"}
_BAD = {"failed", "down", "refused", "unavailable", "cancelled"}


def render_history_table(history: History, *, width: int = 120, color: bool = False) -> str:
    """The events as a table, then one line saying how many there were."""
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0), header_style=style.HEADER_STYLE
    )
    for header in HEADERS:
        if header == "Detail":
            table.add_column(header, overflow="fold", min_width=20)
        else:
            table.add_column(header, no_wrap=True)
    for event in history.events:
        cells = _cells(event)
        table.add_row(*cells[:4], Text(cells[4], style=_outcome_style(event.outcome)), cells[5])
    parts: list[Table | Text] = [table] if history.events else []
    parts.append(Text(summary(history), style=style.HEADER_STYLE))
    return style.to_text(*parts, color=color, width=width, soft_wrap=False)


def render_history_markdown(history: History) -> str:
    """The events as a Markdown table under a heading, then the summary line."""
    rows = [_cells(e) for e in history.events]
    for row in rows:
        row[2] = f"`{row[2]}`"
    body = markdown.table(HEADERS, rows) + "\n" if rows else ""
    return f"### orc history\n\n{body}**{summary(history)}**\n"


def summary(history: History) -> str:
    """`12 events since 2026-11-29 10:00 UTC (probe, chat).`, noting the ones left out."""
    count = len(history.events)
    since = history.since.strftime("%Y-%m-%d %H:%M UTC")
    what = ", ".join(history.kinds)
    where = f" on {history.instance}" if history.instance else ""
    text = f"{count} event{'s' if count != 1 else ''} since {since}{where} ({what})."
    if history.omitted:
        text += f" {history.omitted} older ones not shown (raise --limit or narrow --since)."
    return text


def _cells(event: HistoryEvent) -> list[str]:
    return [
        event.at.strftime("%Y-%m-%d %H:%M:%S"),
        event.kind,
        event.instance,
        event.subject,
        event.outcome,
        event.detail,
    ]


def _outcome_style(outcome: str) -> str:
    if outcome in _GOOD:
        return "green"
    return "red" if outcome in _BAD else "yellow"
