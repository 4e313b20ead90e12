"""`orc apply` as a process: the state-directory lock between two applies, and Ctrl-C.

Each test runs the CLI as a subprocess against a simulated fleet whose pulls are slow enough to
be caught in the middle.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time

from reconciler.state import StateDir
from reconciler.testing import SimInstanceConfig

SMALL = "all-minilm:latest"  # 46 MB: 0.5 s at 100 MB/s
BIG = "tinyllama:latest"  # 637 MB: 6.4 s at 100 MB/s
SLOW = 100e6


def test_a_second_apply_on_the_same_state_dir_refuses_naming_the_holder(sim, spawn, orc, until):
    s = sim([SimInstanceConfig("a", pull_speed=SLOW), SimInstanceConfig("b")])
    s.declare("a", [BIG])
    s.declare("b", [SMALL])
    first = spawn("apply", *s.args("--yes", "--target", "a"))
    until(first, f"a: + pull {BIG} ...")

    second = orc("apply", *s.args("--yes", "--target", "b"))

    assert second.returncode == 1
    holder = re.search(
        r"is locked by pid (\d+) on (\S+) since (\S+) \((orc apply[^)]*)\)", second.stderr
    )
    assert holder, second.stderr
    assert int(holder.group(1)) == first.pid
    assert holder.group(2) == os.uname().nodename
    assert "--lock-timeout" in second.stderr
    assert s.models("b") == set(), "the refused apply changed nothing"
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=30) == 130


def test_a_second_apply_waits_with_lock_timeout_and_then_runs(sim, spawn, orc, until):
    s = sim([SimInstanceConfig("a", pull_speed=SLOW), SimInstanceConfig("b")])
    s.declare("a", [SMALL])
    s.declare("b", [SMALL])
    first = spawn("apply", *s.args("--yes", "--target", "a"))
    until(first, f"a: + pull {SMALL} ...")

    second = orc("apply", *s.args("--yes", "--target", "b", "--lock-timeout", "30"))

    assert first.wait(timeout=30) == 0
    assert second.returncode == 0, second.stderr
    assert s.models("a") == s.models("b") == {SMALL}


def test_a_lock_left_by_a_killed_apply_is_taken_over(sim, spawn, orc, until):
    s = sim([SimInstanceConfig("a", pull_speed=SLOW)])
    s.declare("a", [BIG])
    first = spawn("apply", *s.args("--yes"))
    until(first, f"a: + pull {BIG} ...")
    first.kill()
    first.wait(timeout=30)
    s.declare("a", [SMALL])

    again = orc("apply", *s.args("--yes"))

    assert again.returncode == 0, again.stderr
    assert SMALL in s.models("a")


def test_sigint_stops_cleanly_with_exit_130_and_a_truthful_report(sim, spawn, until):
    s = sim([SimInstanceConfig("a", pull_speed=SLOW), SimInstanceConfig("b", pull_speed=SLOW)])
    s.declare("a", [SMALL, BIG])
    s.declare("b", [BIG])
    process = spawn("apply", *s.args("--yes"))
    until(process, f"a: + pull {SMALL} ... done")

    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=30)

    assert process.returncode == 130, err
    outcomes = rest[rest.index("Outcomes:") :]
    assert f"a: + pull {SMALL} ... done" in outcomes
    assert f"a: + pull {BIG} ... cancelled" in outcomes
    assert f"b: + pull {BIG} ... cancelled" in outcomes
    summary = "Apply interrupted: 1 pulled, 0 created, 0 loaded, 0 deleted, 2 cancelled."
    assert summary in rest
    assert "Apply complete" not in rest
    assert "Verified" not in rest
    assert s.models("a") == {SMALL}
    assert s.models("b") == set()
    assert "Traceback" not in err
    history = {(r.instance, r.model): r.outcome for r in StateDir(s.state_dir).history()}
    assert history == {("a", SMALL): "done", ("a", BIG): "cancelled", ("b", BIG): "cancelled"}


def test_sigint_in_json_mode_ends_with_an_interrupted_summary(sim, spawn, until):
    s = sim([SimInstanceConfig("a", pull_speed=SLOW)])
    s.declare("a", [SMALL, BIG])
    process = spawn("apply", *s.args("--yes", "--format", "json"))
    until(process, '"type": "action_finished"')

    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30)

    assert process.returncode == 130
    summary = json.loads(rest.splitlines()[-1])
    assert summary["type"] == "summary"
    assert summary["interrupted"] is True
    assert summary["exit_code"] == 130
    assert summary["counts"] == {"done": 1, "failed": 0, "skipped": 0, "cancelled": 1}
    assert summary["in_sync"] is None


def test_sigint_during_verification_still_reports_what_was_done(sim, spawn, until):
    s = sim([SimInstanceConfig("a", pull_speed=SLOW)])
    s.declare("a", [SMALL])
    process = spawn("apply", *s.args("--yes"))
    until(process, "Plan: 1 to pull")
    s.fleet["a"].faults.stall_next(1, 20, path="/api/tags")  # the next listing is verify's
    until(process, f"a: + pull {SMALL} ... done")
    time.sleep(0.5)

    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30)

    assert process.returncode == 130
    assert "Outcomes:" in rest
    assert f"a: + pull {SMALL} ... done" in rest[rest.index("Outcomes:") :]
    assert "1 pulled" in rest


def test_sigint_stops_the_server_side_download(sim, spawn, until):
    """In-flight requests are closed: the simulator stops downloading once the client is gone."""
    s = sim([SimInstanceConfig("a", pull_speed=SLOW)])
    s.declare("a", [BIG])
    process = spawn("apply", *s.args("--yes"))
    until(process, f"a: + pull {BIG} ...")

    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)

    downloads = s.fleet["a"].ctx.downloads
    assert process.returncode == 130
    assert s.background.call(_settled(downloads)) == {}


async def _settled(downloads):
    import asyncio

    for _ in range(50):
        if not downloads.active:
            break
        await asyncio.sleep(0.05)
    return dict(downloads.active)
