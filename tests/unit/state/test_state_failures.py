"""The state database's failures: busy is waited for then refused, never rebuilt; only a file
that is provably not SQLite is set aside (renamed); an unwritable directory skips the show cache
(said once) while the lock and the history refuse; a directory or a damaged file is an error."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import astuple
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.state import HistoryRecord, StateBusy, StateDir, StateUnwritable

DIGEST = "a" * 64
RECORD = HistoryRecord("run1", "t0", "t1", "gpu-1", "pull", "llama3:latest", "done", None, 1, 2.5)
WALL = datetime(2026, 11, 26, 4, 30, tzinfo=UTC)

# A separate process that writes one history record, then holds an exclusive transaction on
# the database (and, given a command, the state directory's lock too) until its stdin closes.
_HOLDER = f"""
import sqlite3, sys
from reconciler.state import HistoryRecord, StateDir
path, command = sys.argv[1], sys.argv[2]
with StateDir(path) as state:
    state.record_history([HistoryRecord(*{astuple(RECORD)!r})])
lock = StateDir(path).lock(command=command)
if command:
    lock.__enter__()
db = sqlite3.connect(path + "/state.db", isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start a holder of `tmp_path`'s database; it lets go when its stdin is closed."""
    started: list[subprocess.Popen[str]] = []

    def start(command: str = "") -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(tmp_path), command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "held"
        return process

    yield start
    for process in started:
        process.communicate(timeout=30)


def _release(process: subprocess.Popen[str]) -> None:
    process.communicate(timeout=30)


# -- busy -----------------------------------------------------------------------------------


def test_a_busy_database_is_waited_for_then_refused_and_kept_with_its_history(
    tmp_path: Path, holder
) -> None:
    process = holder()
    before = (tmp_path / "state.db").read_bytes()
    state = StateDir(tmp_path, busy_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(StateBusy) as info:
        state.store_shows({DIGEST: {"capabilities": ["completion"]}})
    waited = time.monotonic() - started
    assert 0.4 <= waited < 5, "waited about the bound, not forever and not at once"
    message = str(info.value)
    assert message.startswith(f"state database {tmp_path / 'state.db'} is busy:")
    assert "another process holds it" in message
    assert "--state-dir" in message
    state.close()
    _release(process)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]
    assert (tmp_path / "state.db").read_bytes() == before
    with StateDir(tmp_path) as again:
        assert again.history() == [RECORD]


def test_a_busy_database_names_the_orc_process_holding_the_state_lock(
    tmp_path: Path, holder
) -> None:
    process = holder("orc apply prod/")
    with pytest.raises(StateBusy) as info, StateDir(tmp_path, busy_timeout=0.2) as state:
        state.record_history([RECORD])
    assert f"another orc process holds it (pid {process.pid} on" in str(info.value)
    assert "(orc apply prod/)" in str(info.value)


def test_the_wait_for_a_busy_database_has_one_overall_bound(tmp_path: Path) -> None:
    """SQLite can report busy without waiting itself; the retries stop at the same bound."""
    now = [0.0]
    calls: list[float] = []

    def busy_opener(path: Path, wait: float) -> sqlite3.Connection:
        calls.append(wait)
        error = sqlite3.OperationalError("database is locked")
        error.sqlite_errorcode = 5  # type: ignore[attr-defined]
        raise error

    def sleep(seconds: float) -> None:
        now[0] += seconds

    clock = lambda: now[0]  # noqa: E731
    state = StateDir(tmp_path, busy_timeout=1.0, opener=busy_opener, clock=clock, sleep=sleep)
    with pytest.raises(StateBusy, match=r"\(waited 1s\)"):
        state.history()
    assert now[0] == pytest.approx(1.0)
    assert calls[0] == pytest.approx(1.0)
    assert calls[-1] < 0.1, "each attempt is given only what is left of the bound"


# -- not a database -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is not sqlite at all" * 100, id="wrong-header"),
        pytest.param(b"{}", id="shorter-than-a-header"),
        pytest.param(b"SQLite format 3\x00" + b"\xff" * 200, id="sqlite-says-notadb"),
    ],
)
def test_a_file_that_is_not_sqlite_is_set_aside_not_deleted(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "state.db").write_bytes(content)
    said: list[str] = []
    with StateDir(tmp_path, warn=said.append, wall=lambda: WALL) as state:
        assert state.cached_shows([DIGEST]) == {}
        state.store_shows({DIGEST: {"ok": True}})
        assert state.cached_shows([DIGEST]) == {DIGEST: {"ok": True}}
    aside = tmp_path / "state.db.corrupt-20261126T043000Z"
    assert aside.read_bytes() == content
    assert said == [
        f"state database {tmp_path / 'state.db'} is not a SQLite database: set aside as"
        f" {aside.name}, starting a new one"
    ]


def test_setting_aside_twice_in_one_second_keeps_both_files(tmp_path: Path) -> None:
    for content in (b"first", b"second"):
        (tmp_path / "state.db").write_bytes(content)
        with StateDir(tmp_path, warn=lambda _: None, wall=lambda: WALL) as state:
            state.history()
    assert (tmp_path / "state.db.corrupt-20261126T043000Z").read_bytes() == b"first"
    assert (tmp_path / "state.db.corrupt-20261126T043000Z-1").read_bytes() == b"second"


def test_an_empty_file_is_not_evidence_and_becomes_the_database(tmp_path: Path) -> None:
    (tmp_path / "state.db").touch()
    said: list[str] = []
    with StateDir(tmp_path, warn=said.append) as state:
        state.record_history([RECORD])
        assert state.history() == [RECORD]
    assert said == []
    assert [p.name for p in tmp_path.glob("*corrupt*")] == []


def test_a_damaged_sqlite_file_is_an_error_and_left_alone(tmp_path: Path) -> None:
    with StateDir(tmp_path) as state:
        state.store_shows({f"{i:064x}": {"pad": "x" * 400} for i in range(300)})
    raw = bytearray((tmp_path / "state.db").read_bytes())
    raw[4096 * 2 :] = b"\x5a" * (len(raw) - 4096 * 2)
    (tmp_path / "state.db").write_bytes(raw)
    with pytest.raises(StateError, match="is damaged") as info, StateDir(tmp_path) as state:
        state.cached_shows([DIGEST])
    assert not isinstance(info.value, StateUnwritable)
    assert "apply history" in str(info.value)
    assert (tmp_path / "state.db").read_bytes() == raw
    assert [p.name for p in tmp_path.glob("*corrupt*")] == []


# -- a directory where the file should be ---------------------------------------------------


def test_a_directory_at_state_db_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state.db").mkdir()
    (tmp_path / "state.db" / "keep").write_text("mine")
    with StateDir(tmp_path) as state:
        for use in (lambda: state.cached_shows([DIGEST]), state.history):
            with pytest.raises(StateError) as info:
                use()
            assert str(info.value) == (
                f"the state database {tmp_path / 'state.db'} is a directory, not a file"
                " (move it out of the way, or pass --state-dir)"
            )
    assert (tmp_path / "state.db" / "keep").read_text() == "mine"


# -- a directory that cannot be written -----------------------------------------------------


def _unwritable_dir(tmp_path: Path) -> Path:
    """A state directory that cannot be created, even by root: its parent is a regular file."""
    (tmp_path / "file").write_text("")
    return tmp_path / "file" / ".orc"


def test_an_uncreatable_state_dir_skips_the_show_cache_and_says_so_once(tmp_path: Path) -> None:
    path = _unwritable_dir(tmp_path)
    said: list[str] = []
    with StateDir(path, warn=said.append) as state:
        assert state.cached_shows([DIGEST]) == {}
        state.store_shows({DIGEST: {"ok": True}})
        assert state.cached_shows([DIGEST]) == {}
    assert said == [
        f"state directory {path} is not writable (Not a directory): working without the show cache"
    ]


def test_an_uncreatable_state_dir_refuses_the_lock_and_the_history(tmp_path: Path) -> None:
    path = _unwritable_dir(tmp_path)
    with StateDir(path) as state:
        with pytest.raises(StateUnwritable) as info, state.lock():
            pass
        assert str(info.value) == (
            f"state directory {path} is not writable (Not a directory): applying needs it for"
            " the lock and the history (pass --state-dir or set ORC_STATE_DIR to a writable"
            " folder)"
        )
        with pytest.raises(StateUnwritable):
            state.record_history([RECORD])


def test_a_state_dir_that_is_a_file_is_unwritable_too(tmp_path: Path) -> None:
    (tmp_path / ".orc").write_text("not a folder")
    said: list[str] = []
    with StateDir(tmp_path / ".orc", warn=said.append) as state:
        assert state.cached_shows([DIGEST]) == {}
        with pytest.raises(StateUnwritable, match="it is a file, not a directory"):
            state.history()
    assert len(said) == 1
    assert (tmp_path / ".orc").read_text() == "not a folder"


def test_a_database_that_refuses_writes_skips_the_cache_once(tmp_path: Path) -> None:
    """A real read-only SQLite connection (refused by SQLite itself, so it holds for root too):
    reads still work until the first write fails, then the cache is skipped, said once."""
    with StateDir(tmp_path) as state:
        state.store_shows({DIGEST: {"ok": True}})

    def read_only(path: Path, wait: float) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=wait)

    said: list[str] = []
    with StateDir(tmp_path, warn=said.append, opener=read_only) as state:
        assert state.cached_shows([DIGEST]) == {DIGEST: {"ok": True}}
        state.store_shows({"b" * 64: {"new": True}})
        state.store_shows({"c" * 64: {"new": True}})
        assert state.cached_shows([DIGEST]) == {}
        with pytest.raises(StateUnwritable, match="readonly database"):
            state.record_history([RECORD])
    assert said == [
        f"state directory {tmp_path} is not writable (attempt to write a readonly database):"
        " working without the show cache"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="permission bits do not stop root")
def test_a_read_only_state_dir_by_permissions(tmp_path: Path) -> None:
    path = tmp_path / ".orc"
    path.mkdir(mode=0o500)
    said: list[str] = []
    try:
        with StateDir(path, warn=said.append) as state:
            assert state.cached_shows([DIGEST]) == {}
            with pytest.raises(StateUnwritable), state.lock():
                pass
    finally:
        path.chmod(0o700)
    assert said == [
        f"state directory {path} is not writable (permission denied):"
        " working without the show cache"
    ]
