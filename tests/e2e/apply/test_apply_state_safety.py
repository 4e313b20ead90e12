"""Safe to leave running: per-server locks across working copies, and a state directory that is
busy, not a database, a directory, or not writable.

The applies run as real subprocesses from two different working directories, each with its own
default `.orc/`, sharing only the machine-wide lock directory (the suite's `ORC_LOCK_DIR`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.serverkey import server_key
from reconciler.state import HistoryRecord, StateDir
from reconciler.testing import SimInstanceConfig

SMALL = "all-minilm:latest"  # 46 MB: 0.5 s at 100 MB/s
BIG = "tinyllama:latest"  # 637 MB: 6.4 s at 100 MB/s
SLOW = 100e6

Run = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def from_dir() -> Iterator[Run]:
    """`from_dir(cwd, *args)`: start `orc ARGS` in that directory (no --state-dir: `./.orc`)."""
    started: list[subprocess.Popen[str]] = []

    def start(cwd: Path, *args: str) -> subprocess.Popen[str]:
        cwd.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in {"ORC_STATE_DIR", "FORCE_COLOR"}}
        env.update(NO_COLOR="1", PYTHONUNBUFFERED="1")
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_two_working_copies_never_change_one_server_at_once(sim, from_dir, until, tmp_path):
    s = sim([SimInstanceConfig("a", pull_speed=SLOW)])
    s.declare("a", [BIG])
    first = from_dir(tmp_path / "site-1", "apply", str(s.manifests), "--yes")
    until(first, f"a: + pull {BIG} ...")

    second = from_dir(tmp_path / "site-2", "apply", str(s.manifests), "--yes")
    _, err = second.communicate(timeout=60)

    assert second.returncode == 1, err
    server = re.escape(server_key(s.url("a")))
    holder = re.search(
        rf"^Error: the server {server} is being changed by pid (\d+) on (\S+) since \S+"
        r" \((orc apply [^)]*)\), user (\S+) \(wait for it to finish, or pass --lock-timeout",
        err,
        re.MULTILINE,
    )
    assert holder, err
    assert int(holder.group(1)) == first.pid
    assert holder.group(2) == os.uname().nodename
    assert "Traceback" not in err
    assert s.pulls("a") == 1, "the refused apply did not pull"
    assert (tmp_path / "site-1" / ".orc" / "lock").exists()
    assert (tmp_path / "site-2" / ".orc" / "lock").exists(), "each copy had its own state lock"
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=30) == 130


def test_the_second_working_copy_waits_with_lock_timeout_then_runs(sim, from_dir, until, tmp_path):
    s = sim([SimInstanceConfig("a", pull_speed=SLOW)])
    s.declare("a", [SMALL])
    first = from_dir(tmp_path / "site-1", "apply", str(s.manifests), "--yes")
    until(first, f"a: + pull {SMALL} ...")

    second = from_dir(
        tmp_path / "site-2", "apply", str(s.manifests), "--yes", "--lock-timeout", "30"
    )
    _, err = second.communicate(timeout=60)

    assert first.wait(timeout=30) == 0
    assert second.returncode == 0, err
    assert s.models("a") == {SMALL}


def test_an_unwritable_state_dir_plans_with_one_warning_and_refuses_apply(sim, orc_main, tmp_path):
    s = sim([SimInstanceConfig("a", models=(SMALL,))])
    s.declare("a", [SMALL, BIG])
    (tmp_path / "file").write_text("")
    state = tmp_path / "file" / ".orc"  # cannot be created, not even by root

    code, out, err = orc_main("plan", str(s.manifests), "--state-dir", str(state))

    assert code == 0, err
    assert f"+ pull {BIG}" in out
    assert err == (
        f"Warning: state directory {state} is not writable (Not a directory): working without"
        " the show cache\n"
    )

    code, out, err = orc_main("status", str(s.manifests), "--state-dir", str(state))
    assert code == 0, err
    assert err.count("Warning: ") == 1

    code, out, err = orc_main("apply", str(s.manifests), "--yes", "--state-dir", str(state))

    assert code == 1
    assert err.endswith(
        f"Error: state directory {state} is not writable (Not a directory): applying needs it"
        " for the lock and the history (pass --state-dir or set ORC_STATE_DIR to a writable"
        " folder)\n"
    )
    assert s.models("a") == {SMALL}


def test_a_directory_at_state_db_is_a_clear_error(sim, orc_main, tmp_path):
    s = sim([SimInstanceConfig("a", models=(SMALL,))])
    s.declare("a", [SMALL])
    (tmp_path / "state" / "state.db").mkdir(parents=True)

    code, _, err = orc_main("plan", *s.args())

    assert code == 1
    assert err == (
        f"Error: the state database {tmp_path / 'state' / 'state.db'} is a directory, not a"
        " file (move it out of the way, or pass --state-dir)\n"
    )
    assert (tmp_path / "state" / "state.db").is_dir()


def test_a_file_that_is_not_sqlite_is_set_aside_and_plan_goes_on(sim, orc_main, tmp_path):
    s = sim([SimInstanceConfig("a", models=(SMALL,))])
    s.declare("a", [SMALL])
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.db").write_text("not a database, but maybe someone's notes")

    code, _, err = orc_main("plan", *s.args())

    assert code == 0, err
    [aside] = (tmp_path / "state").glob("state.db.corrupt-*")
    assert re.fullmatch(r"state\.db\.corrupt-\d{8}T\d{6}Z", aside.name)
    assert aside.read_text() == "not a database, but maybe someone's notes"
    assert err == (
        f"Warning: state database {tmp_path / 'state' / 'state.db'} is not a SQLite database:"
        f" set aside as {aside.name}, starting a new one\n"
    )
    with StateDir(tmp_path / "state") as state:
        assert state.history() == []


_HOLD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.read()
"""


def test_a_busy_database_is_waited_for_then_refused_and_never_rebuilt(sim, orc_main, tmp_path):
    """Real time: the default bound (10 s) is what a user meets; the history must survive."""
    s = sim([SimInstanceConfig("a", models=(SMALL,))])
    s.declare("a", [SMALL])
    db_path = tmp_path / "state" / "state.db"
    record = HistoryRecord("r1", "t0", "t1", "a", "pull", SMALL, "done", None, 1, 0.5)
    with StateDir(tmp_path / "state") as state:
        state.record_history([record])
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        code, _, err = orc_main("plan", *s.args())
        waited = time.monotonic() - started
    finally:
        holder.communicate(timeout=30)

    assert code == 1
    assert 9 <= waited < 30
    assert err == (
        f"Error: state database {db_path} is busy: another process holds it (waited 10s)"
        " (try again, or use --state-dir)\n"
    )
    assert list((tmp_path / "state").glob("*corrupt*")) == []
    with StateDir(tmp_path / "state") as state:
        assert state.history() == [record], "the history survived"
