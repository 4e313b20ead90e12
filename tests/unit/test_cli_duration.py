"""The one duration flag type of every command: the manifests' grammar, plus bare seconds."""

from __future__ import annotations

import click
import pytest

from reconciler.cli.options import Duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30.0), ("1.5", 1.5), ("300ms", 0.3), ("10s", 10.0), ("5m", 300.0), ("1h30m", 5400.0)],
)
def test_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert Duration().convert(text, None, None) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["0", "0ms", "-1", "soon", "5 minutes", ""])
def test_zero_and_garbage_are_refused(text: str) -> None:
    with pytest.raises(click.BadParameter):
        Duration().convert(text, None, None)


def test_zero_is_allowed_where_it_means_none() -> None:
    assert Duration(allow_zero=True).convert("0ms", None, None) == 0.0
    with pytest.raises(click.BadParameter, match="greater than 0"):
        Duration(allow_zero=True).convert("-5", None, None)
