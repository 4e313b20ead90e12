"""The state directory: show cache by digest, apply lock, history; corruption is never fatal."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from reconciler.errors import RefusedError
from reconciler.state import HistoryRecord, StateDir, read_holder, state_dir_path


def test_state_dir_path_prefers_option_then_env_then_default() -> None:
    assert state_dir_path("x", {"ORC_STATE_DIR": "y"}) == Path("x")
    assert state_dir_path(None, {"ORC_STATE_DIR": "y"}) == Path("y")
    assert state_dir_path(None, {}) == Path(".orc")


def test_show_cache_round_trips_by_digest(tmp_path: Path) -> None:
    with StateDir(tmp_path / ".orc") as state:
        assert state.cached_shows(["a" * 64]) == {}
        state.store_shows({"a" * 64: {"capabilities": ["completion"], "n": 1}})
        state.store_shows({"b" * 64: {"capabilities": ["embedding"]}})
    with StateDir(tmp_path / ".orc") as state:
        found = state.cached_shows(["a" * 64, "b" * 64, "c" * 64])
    assert found == {
        "a" * 64: {"capabilities": ["completion"], "n": 1},
        "b" * 64: {"capabilities": ["embedding"]},
    }


def test_many_digests_are_fetched_in_chunks(tmp_path: Path) -> None:
    shows = {f"{i:064x}": {"i": i} for i in range(1200)}
    with StateDir(tmp_path) as state:
        state.store_shows(shows)
        assert state.cached_shows(shows) == shows


def test_corrupt_database_is_rebuilt_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"this is not sqlite at all" * 100)
    with StateDir(tmp_path) as state:
        assert state.cached_shows(["a" * 64]) == {}
        state.store_shows({"a" * 64: {"ok": True}})
        assert state.cached_shows(["a" * 64]) == {"a" * 64: {"ok": True}}


def test_database_deleted_while_open_is_recreated(tmp_path: Path) -> None:
    with StateDir(tmp_path) as state:
        state.store_shows({"a" * 64: {"ok": True}})
        state.close()
        (tmp_path / "state.db").unlink()
        assert state.cached_shows(["a" * 64]) == {}


def test_history_appends_and_reads_back_in_order(tmp_path: Path) -> None:
    records = [
        HistoryRecord("run1", "t0", "t1", "gpu-1", "pull", "llama3:latest", "done", None, 1, 2.5),
        HistoryRecord("run1", "t0", "t2", "gpu-1", "delete", "old:7b", "failed", "boom", 3, 0.1),
    ]
    with StateDir(tmp_path) as state:
        state.record_history(records)
        state.record_history([])
        assert state.history() == records
        assert state.history(limit=1) == records[1:]


def test_lock_is_exclusive_and_names_the_holder(tmp_path: Path) -> None:
    first, second = StateDir(tmp_path), StateDir(tmp_path)
    with first.lock(command="orc apply examples/") as holder:
        assert holder.pid == os.getpid()
        with pytest.raises(RefusedError) as info, second.lock(timeout=0):
            pass
        message = str(info.value)
        assert f"pid {os.getpid()}" in message
        assert "orc apply examples/" in message
        assert "--lock-timeout" in message
    with second.lock():
        pass


def test_lock_waits_up_to_the_timeout_with_an_injected_clock(tmp_path: Path) -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    waiting = StateDir(tmp_path).lock(timeout=1.0, clock=lambda: now[0], sleep=sleep, poll=0.25)
    with StateDir(tmp_path).lock(), pytest.raises(RefusedError, match="after waiting 1s"), waiting:
        pass
    assert sum(slept) == pytest.approx(1.0)
    assert len(slept) == 4


def _hold_lock_and_die(path: str) -> None:
    lock = StateDir(path).lock(command="crashed apply")
    lock.__enter__()
    os._exit(9)  # dies without releasing anything


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    child = multiprocessing.get_context("fork").Process(target=_hold_lock_and_die, args=(tmp_path,))
    child.start()
    child.join(10)
    stale = read_holder((tmp_path / "lock").read_bytes())
    assert stale is not None
    assert stale.command == "crashed apply"
    with StateDir(tmp_path).lock() as holder:
        assert holder.pid == os.getpid()
        assert json.loads((tmp_path / "lock").read_text())["pid"] == os.getpid()


def test_read_holder_tolerates_garbage() -> None:
    assert read_holder(b"") is None
    assert read_holder(b"\xff\xfe") is None
    assert read_holder(b'{"pid": "x"}') is None
