"""Text without colour skips rich only where rich would print it unchanged.

`styled_text` is checked against what rich itself renders from the same pieces: tabs, control
characters, line separators, wide and combining characters, trailing spaces, markup-like and
escape-like text, each with and without colour.
"""

from __future__ import annotations

import random

import pytest
from rich.text import Text

from reconciler.report import style

HOSTILE = [
    "tab\there",
    "bell\x07 and backspace\x08",
    "carriage\rreturn",
    "form\x0cfeed and vertical\x0btab",
    "escape \x1b[31mred\x1b[0m",
    "next line\x85and line\u2028separators\u2029",
    "file\x1cgroup\x1drecord\x1e",
    "delete\x7f",
    "wide 中文 and emoji 😀",
    "combining e\u0301 and zero width\u200bspace",
    "[bold]markup[/bold] and :smile:",
    "trailing spaces   \n  ",
    "x" * 150,
    "",
    "\n\n",
]


def _rich(pieces: list[tuple[str, str]], color: bool) -> str:
    text = Text()
    for piece, piece_style in pieces:
        text.append(piece, style=piece_style)
    return style.to_text(text, color=color)


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("piece", HOSTILE)
def test_each_hostile_piece_renders_as_rich_renders_it(piece: str, color: bool) -> None:
    pieces = [("head\n", style.HEADER_STYLE), (f"  {piece}\n", "red"), ("summary", "bold")]
    assert style.styled_text(pieces, color=color) == _rich(pieces, color)


def test_random_pieces_render_as_rich_renders_them() -> None:
    rng = random.Random(7)
    alphabet = [*"ab c\n\t ", *HOSTILE]
    for _ in range(2000):
        pieces = [
            (
                "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))),
                rng.choice(["", "bold", "red", "dim"]),
            )
            for _ in range(rng.randint(1, 5))
        ]
        color = rng.random() < 0.2
        assert style.styled_text(pieces, color=color) == _rich(pieces, color), pieces
