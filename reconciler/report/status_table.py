"""The status as terminal tables: instances (health in colour), and with `--models` the models.

Returns a string; the CLI decides the width and whether to colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from reconciler.report import style
from reconciler.report.status import Status
from reconciler.report.status_rows import (
    FIGURE_HEADERS,
    HEALTH_COLUMN,
    INSTANCE_HEADERS,
    MODEL_HEADERS,
    SYNC_COLUMN,
    figure_cells,
    figures_title,
    instance_cells,
    model_cells,
    problems,
    verdict,
)

# Columns that may wrap on a narrow terminal, with the width they keep at least.
_WRAPPING = {"URL": 12, "Capabilities": 12, "Sync": 9, "Checked": 6, "Last error": 12}


def render_status_table(
    status: Status, *, models: bool = False, width: int = 120, color: bool = False
) -> str:
    """The instances table, problems underneath, the models table if asked, then the verdict."""
    rows = []
    for inst in status.instances:
        rows.append(
            _styled(
                instance_cells(inst, status),
                {
                    HEALTH_COLUMN: style.HEALTH_STYLES[inst.health],
                    SYNC_COLUMN: style.SYNC_STYLES[inst.sync],
                },
            )
        )
    parts: list[Table | Text] = [_table(INSTANCE_HEADERS, rows)]
    for inst in problems(status):
        line = f"{inst.name}: {inst.health}: {inst.message}"
        parts.append(Text(line, style=style.HEALTH_STYLES[inst.health]))
    if status.window is not None:
        parts.append(Text(figures_title(status), style=style.HEADER_STYLE))
        figure_rows = [_styled(figure_cells(i, status), {}) for i in status.instances]
        parts.append(_table(FIGURE_HEADERS, figure_rows))
    if models:
        model_rows = [_styled(model_cells(m, status), {}) for m in status.models]
        parts.append(_table(MODEL_HEADERS, model_rows))
    parts.append(Text(verdict(status), style=style.HEADER_STYLE))
    return style.to_text(*parts, color=color, width=width, soft_wrap=False)


def _styled(cells: Sequence[str], styles: Mapping[int, str]) -> list[Text]:
    return [Text(cell, style=styles.get(i, "")) for i, cell in enumerate(cells)]


def _table(headers: Sequence[str], rows: Sequence[Sequence[Text]]) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0), header_style=style.HEADER_STYLE
    )
    for header in headers:
        if header in _WRAPPING:
            table.add_column(header, overflow="fold", min_width=_WRAPPING[header])
        else:
            table.add_column(header, no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table
