"""Apply progress sinks: JSON lines and plain lines, with pull progress throttled per action."""

from __future__ import annotations

import io
import json

from reconciler.apply import ActionFinished, ActionProgress, ActionResult, ActionStarted, Outcome
from reconciler.cli.progress import JsonSink, LineSink
from reconciler.names import parse
from reconciler.plan import Action, ActionKind

PULL = Action("gpu-1", ActionKind.PULL, parse("llama3.2:3b"), "declared, not installed")
OTHER = Action("gpu-2", ActionKind.PULL, parse("llama3.2:3b"), "declared, not installed")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def progress(action: Action, done: int) -> ActionProgress:
    return ActionProgress(action, "pulling abc", done, 1000)


def test_json_sink_throttles_pull_progress_per_action() -> None:
    out, clock = io.StringIO(), Clock()
    sink = JsonSink(out, interval=0.5, clock=clock)
    sink(ActionStarted(PULL))
    sink(progress(PULL, 100))  # first progress of the action: shown
    sink(progress(OTHER, 100))  # another action has its own interval
    clock.now = 0.3
    sink(progress(PULL, 200))  # too soon
    clock.now = 0.6
    sink(progress(PULL, 300))
    sink(ActionFinished(ActionResult(PULL, Outcome.DONE, attempts=1, seconds=0.6)))
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["type"], e["instance"], e.get("completed")) for e in events] == [
        ("action_started", "gpu-1", None),
        ("pull_progress", "gpu-1", 100),
        ("pull_progress", "gpu-2", 100),
        ("pull_progress", "gpu-1", 300),
        ("action_finished", "gpu-1", None),
    ]


def test_line_sink_shows_pull_progress_every_interval_not_at_once() -> None:
    out, clock = io.StringIO(), Clock()
    sink = LineSink(out, interval=5.0, clock=clock)
    sink(ActionStarted(PULL))
    sink(progress(PULL, 100))  # the start line already said it began
    clock.now = 4.0
    sink(progress(PULL, 400))
    clock.now = 5.5
    sink(progress(PULL, 550))
    sink(ActionFinished(ActionResult(PULL, Outcome.DONE, attempts=1, seconds=5.5)))
    assert out.getvalue().splitlines() == [
        "gpu-1: + pull llama3.2:3b ...",
        "gpu-1: + pull llama3.2:3b: 550 B / 1.0 KB (55%)",
        "gpu-1: + pull llama3.2:3b ... done (5.5 s)",
    ]
