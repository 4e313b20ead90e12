"""Colours of the reports, and the one place that turns rich renderables into a string.

Renderers never write anywhere: they return strings. Whether to colour is the caller's decision
(the CLI knows about terminals, `--no-color` and `NO_COLOR`), so the environment is ignored here.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from reconciler.observed import Health, Sync
from reconciler.plan import ActionKind

if TYPE_CHECKING:
    from rich.console import RenderableType

ACTION_SYMBOLS = {
    ActionKind.PULL: "+",
    ActionKind.CREATE: "~",
    ActionKind.LOAD: "*",
    ActionKind.DELETE: "-",
    ActionKind.UPDATE: "^",
}
ACTION_STYLES = {
    ActionKind.PULL: "green",
    ActionKind.CREATE: "yellow",
    ActionKind.LOAD: "cyan",
    ActionKind.DELETE: "red",
    ActionKind.UPDATE: "magenta",
}
HEALTH_STYLES = {
    Health.HEALTHY: "green",
    Health.DEGRADED: "yellow",
    Health.DISABLED: "dim",
    Health.UNKNOWN: "magenta",
    Health.UNAUTHORIZED: "red",
    Health.TLS_ERROR: "red",
    Health.UNREACHABLE: "red",
}
SYNC_STYLES = {Sync.SYNCED: "green", Sync.OUT_OF_SYNC: "yellow", Sync.UNKNOWN: "magenta"}
BLOCKED_STYLE = "bold red"
HELD_STYLE = "yellow"  # an action a sync window holds back
ERROR_STYLE = "bold red"
NOTE_STYLE = "dim"
HEADER_STYLE = "bold"

# Spaces at the end of a line, possibly followed by colour codes (which are kept).
_TRAILING_SPACES = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$")
# What rich would change in plain text: tabs (expanded), control characters (dropped) and the
# characters other than "\n" that end a line.
_NOT_PLAIN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def styled_text(pieces: Sequence[tuple[str, str]], *, color: bool) -> str:
    """Pieces of text, each with its style name ('' for none), rendered as `to_text` renders one
    rich Text of them; without colour, text of printable characters only needs no rich."""
    if not color and not any(_NOT_PLAIN.search(text) for text, _ in pieces):
        return _without_trailing_spaces("".join(text for text, _ in pieces) + "\n")
    from rich.text import Text

    text = Text()
    for piece, piece_style in pieces:
        text.append(piece, style=piece_style)
    return to_text(text, color=color)


def _without_trailing_spaces(rendered: str) -> str:
    return "".join(_TRAILING_SPACES.sub(r"\1", line) + "\n" for line in rendered.splitlines())


def to_text(
    *renderables: RenderableType, color: bool, width: int = 100, soft_wrap: bool = True
) -> str:
    """Render to a string, with ANSI colours only when `color` is true; no trailing spaces.

    With `soft_wrap` long lines are left whole (the terminal wraps them); tables want it off.
    """
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
        _environ={},
    )
    for renderable in renderables:
        console.print(renderable, soft_wrap=soft_wrap)
    return _without_trailing_spaces(buffer.getvalue())
