"""The status as Markdown (a pull-request comment, a wiki page, a CI job summary)."""

from __future__ import annotations

from reconciler.report import markdown
from reconciler.report.status import Status
from reconciler.report.status_rows import (
    FIGURE_HEADERS,
    INSTANCE_HEADERS,
    MODEL_HEADERS,
    figure_cells,
    figures_title,
    instance_cells,
    model_cells,
    problems,
    verdict,
)


def render_status_markdown(status: Status, *, models: bool = False) -> str:
    """The verdict, the instances table, problems, and (folded) the models table when asked."""
    rows = [_code(instance_cells(i, status), 0) for i in status.instances]
    parts = [
        f"### orc status\n\n**{verdict(status)}**\n",
        markdown.table(INSTANCE_HEADERS, rows, numeric=(3, 6)),
    ]
    if status.window is not None:
        figure_rows = [_code(figure_cells(i, status), 0) for i in status.instances]
        table = markdown.table(FIGURE_HEADERS, figure_rows, numeric=(1, 2))
        parts.append(f"{figures_title(status)}\n\n{table}")
    issues = [f"- `{i.name}`: {i.health}: {markdown.cell(i.message)}\n" for i in problems(status)]
    if issues:
        parts.append("".join(issues))
    if models:
        model_rows = [_code(model_cells(m, status), 0, 1, 9) for m in status.models]
        table = markdown.table(MODEL_HEADERS, model_rows, numeric=(2, 5))
        parts.append(markdown.details(f"Models ({len(status.models)})", table))
    return "\n".join(parts)


def _code(cells: list[str], *columns: int) -> list[str]:
    """The row with the given columns set in `code`."""
    return [f"`{c}`" if i in columns else c for i, c in enumerate(cells)]
