"""Every rate flag takes the same units: `orc sim` and `orc demo` agree on what `50MB/s` means."""

from __future__ import annotations

import click
import pytest

from reconciler.cli.main import cli
from reconciler.cli.options import Rate


def _option(command: str, flag: str) -> click.Option:
    found = cli.get_command(click.Context(cli), command)
    assert found is not None
    (option,) = [p for p in found.params if isinstance(p, click.Option) and flag in p.opts]
    return option


@pytest.mark.parametrize("command", ["sim", "demo"])
@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("50MB/s", 50e6),
        ("1GB/s", 1e9),
        ("512KiB/s", 512 * 1024),
        ("10B/s", 10.0),
        ("instant", None),
    ],
)
def test_pull_speed_means_the_same_everywhere(command: str, text: str, rate: float | None) -> None:
    option = _option(command, "--pull-speed")
    assert isinstance(option.type, Rate)
    assert option.type.convert(text, option, None) == rate


@pytest.mark.parametrize("command", ["sim", "demo"])
def test_a_bare_number_is_refused_with_the_units_to_write(command: str) -> None:
    option = _option(command, "--pull-speed")
    with pytest.raises(click.BadParameter, match=r"needs its unit.*50MB/s"):
        option.type.convert("50", option, None)


def test_every_time_flag_takes_a_duration() -> None:
    from reconciler.cli.options import Duration

    timed = ("timeout", "interval", "debounce", "latency", "delay", "window", "retention", "since")
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        for param in command.params:
            if not isinstance(param, click.Option) or param.is_flag:
                continue  # arguments, and on/off switches (--ignore-sync-windows), take no time
            if any(w in (param.name or "") for w in timed):
                assert isinstance(param.type, Duration), f"orc {name} {param.opts[0]}"
