"""Machine-wide per-server locks: where they live, who they name, the order they are taken in."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from reconciler.errors import RefusedError, StateError
from reconciler.state import ServerLocks, lock_dir_path, read_holder

GPU1 = "http://gpu-1:11434"
GPU2 = "http://gpu-2:11434"


def test_the_lock_dir_is_orc_lock_dir_else_xdg_state_home_else_home() -> None:
    assert lock_dir_path({"ORC_LOCK_DIR": "/l", "XDG_STATE_HOME": "/x"}) == Path("/l")
    assert lock_dir_path({"XDG_STATE_HOME": "/x", "HOME": "/h"}) == Path("/x/orc/locks")
    assert lock_dir_path({"XDG_STATE_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.local/state/orc/locks"
    )
    assert lock_dir_path({"HOME": "/h"}) == Path("/h/.local/state/orc/locks")


def test_the_suite_never_locks_in_the_real_home(private_lock_dir: Path) -> None:
    assert lock_dir_path() == private_lock_dir
    assert str(private_lock_dir).startswith(str(Path(os.environ["XDG_STATE_HOME"])))


def test_a_held_server_refuses_naming_the_server_and_the_holder(tmp_path: Path) -> None:
    locks = ServerLocks(tmp_path / "locks")
    with locks.acquire([GPU1], command="orc apply site-a/") as held:
        assert [h.server for h in held] == [GPU1]
        with pytest.raises(RefusedError) as info, locks.acquire([GPU2, GPU1]):
            pass
        message = str(info.value)
        assert message.startswith(f"the server {GPU1} is being changed by pid {os.getpid()} on ")
        assert "(orc apply site-a/), user " in message
        assert "--lock-timeout" in message
        with locks.acquire([GPU2]):
            pass  # another server is free meanwhile, and the refused attempt let it go
    with locks.acquire([GPU1, GPU2]):
        pass


def test_the_lock_file_names_the_holder_and_never_a_credential(tmp_path: Path) -> None:
    locks = ServerLocks(tmp_path)
    with locks.acquire(["https://admin:s3cret@gpu-1:443"], command="orc apply x/"):
        [path] = tmp_path.glob("*.lock")
        raw = path.read_bytes()
        holder = read_holder(raw)
    assert b"s3cret" not in raw and b"admin" not in raw
    assert holder is not None
    assert holder.pid == os.getpid()
    assert holder.server == "https://gpu-1:443"
    assert holder.command == "orc apply x/"
    assert holder.user
    assert set(json.loads(raw)) == {"pid", "host", "since", "command", "user", "server"}


def test_lock_files_are_named_by_a_hash_of_the_key(tmp_path: Path) -> None:
    locks = ServerLocks(tmp_path)
    name = locks.path_for("http://gpu-1:11434/ollama/../x").name
    assert len(name) == len("0" * 32 + ".lock")
    assert locks.path_for(GPU1) != locks.path_for(GPU2)


def test_the_lock_dir_and_its_missing_parents_are_created_private(tmp_path: Path) -> None:
    with ServerLocks(tmp_path / "state" / "orc" / "locks").acquire([GPU1]):
        pass
    for folder in ("state", "state/orc", "state/orc/locks"):
        assert stat.S_IMODE((tmp_path / folder).stat().st_mode) == 0o700, folder


def test_an_unusable_lock_dir_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    locks = ServerLocks(tmp_path / "file" / "locks")
    with (
        pytest.raises(StateError, match="cannot create the lock directory") as info,
        locks.acquire([GPU1]),
    ):
        pass
    assert "ORC_LOCK_DIR" in str(info.value)


def test_no_servers_need_no_lock_dir(tmp_path: Path) -> None:
    with ServerLocks(tmp_path / "never").acquire([]) as held:
        assert held == []
    assert not (tmp_path / "never").exists()


def test_one_deadline_covers_all_the_servers(tmp_path: Path) -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    waiting = ServerLocks(tmp_path, clock=lambda: now[0], sleep=sleep, poll=0.5)
    with (
        ServerLocks(tmp_path).acquire([GPU2]),
        pytest.raises(RefusedError, match=r"gpu-2.*after waiting 2s"),
        waiting.acquire([GPU1, GPU2], timeout=2.0),
    ):
        pass
    assert sum(slept) == pytest.approx(2.0)


def _hold_and_die(directory: str) -> None:
    lock = ServerLocks(directory).acquire([GPU1], command="crashed apply")
    lock.__enter__()
    os._exit(9)


def test_the_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    child = multiprocessing.get_context("fork").Process(target=_hold_and_die, args=(tmp_path,))
    child.start()
    child.join(10)
    with ServerLocks(tmp_path).acquire([GPU1]) as held:
        assert held[0].pid == os.getpid()
