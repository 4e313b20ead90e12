"""The garbage collector's threshold while `orc` starts (reconciler/cli/collector.py): raised by the
console script, put back when a command starts its event loop or keeps running, and never taken
from someone who changed it meanwhile."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from reconciler.cli import collector
from reconciler.cli.collector import (
    START_THRESHOLD,
    collect_less_while_starting,
    collect_normally,
)
from reconciler.cli.main import KEEPS_RUNNING, LazyGroup, cli
from reconciler.cli.options import run_async
from tests.support.fresh_interpreter import run_fresh

DEFAULT = (700, 10, 10)


@pytest.fixture(autouse=True)
def python_defaults() -> Iterator[None]:
    """Each test starts from Python's default thresholds and nothing raised, and leaves the
    process as it found it."""
    saved = gc.get_threshold()
    gc.set_threshold(*DEFAULT)
    collector._raised.clear()
    try:
        yield
    finally:
        collector._raised.clear()
        gc.set_threshold(*saved)


def test_the_threshold_is_raised_while_starting_and_put_back_after() -> None:
    collect_less_while_starting()
    assert gc.get_threshold() == (START_THRESHOLD, 10, 10)
    collect_normally()
    assert gc.get_threshold() == DEFAULT


def test_raising_twice_puts_back_the_original_thresholds() -> None:
    collect_less_while_starting()
    collect_less_while_starting()
    collect_normally()
    assert gc.get_threshold() == DEFAULT
    collect_normally()  # nothing left to put back
    assert gc.get_threshold() == DEFAULT


def test_thresholds_changed_meanwhile_are_left_alone() -> None:
    collect_less_while_starting()
    gc.set_threshold(5000, 20, 20)  # a library or the user tuned the collector
    collect_normally()
    assert gc.get_threshold() == (5000, 20, 20)


def test_a_collector_turned_off_by_threshold_stays_off() -> None:
    gc.set_threshold(0, 10, 10)
    collect_less_while_starting()
    assert gc.get_threshold() == (0, 10, 10)
    collect_normally()
    assert gc.get_threshold() == (0, 10, 10)


def test_a_threshold_already_higher_is_not_lowered() -> None:
    gc.set_threshold(START_THRESHOLD * 2, 10, 10)
    collect_less_while_starting()
    collect_normally()
    assert gc.get_threshold() == (START_THRESHOLD * 2, 10, 10)


def test_an_event_loop_command_collects_normally_while_it_works() -> None:
    async def threshold() -> tuple[int, int, int]:
        return gc.get_threshold()

    collect_less_while_starting()
    assert run_async(threshold()) == DEFAULT


@pytest.mark.parametrize("name", sorted(KEEPS_RUNNING))
def test_a_command_that_keeps_running_collects_normally(name: str) -> None:
    collect_less_while_starting()
    assert isinstance(cli, LazyGroup)
    assert cli.get_command(click.Context(cli), name) is not None
    assert gc.get_threshold() == DEFAULT


def test_a_short_command_keeps_the_raised_threshold() -> None:
    collect_less_while_starting()
    assert cli.get_command(click.Context(cli), "validate") is not None
    assert gc.get_threshold() == (START_THRESHOLD, 10, 10)


def test_the_console_script_starts_with_the_threshold_raised(tmp_path: Path) -> None:
    manifest = tmp_path / "one.yaml"
    manifest.write_text(
        "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\nmetadata: {name: one}\n"
        "spec: {url: 'http://127.0.0.1:11434'}\n"
    )
    code = (
        "import atexit, gc, json, sys\n"
        "start = gc.get_threshold()\n"
        "atexit.register(lambda: print(json.dumps([start, gc.get_threshold()])))\n"
        f"sys.argv = ['orc', 'validate', {str(manifest)!r}]\n"
        "from reconciler.cli.main import run\n"
        "run()\n"
    )
    output = run_fresh(code).strip().splitlines()[-1]
    before, after = json.loads(output)
    assert before[0] < START_THRESHOLD
    assert after == [START_THRESHOLD, *before[1:]]
