"""`Fleet` given a state directory records its probes and every chat, one row per try."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.chat import ChatFailed, Fleet, NoInstanceAvailable
from reconciler.state import StateDir

from .conftest import TOKEN, Sim, desired_fleet

HI = [{"role": "user", "content": "Reply with the single word OK."}]


def fleet_with_state(sim: Sim, folder: Path) -> Fleet:
    return Fleet(
        desired_fleet(),
        client_factory=sim.factory,
        env={"GPU_B_TOKEN": TOKEN},
        clock=sim.clock,
        state_dir=folder,
    )


async def test_an_answered_chat_is_recorded_with_its_timings(sim: Sim, tmp_path: Path) -> None:
    async with fleet_with_state(sim, tmp_path / "state") as fleet:
        await fleet.chat(model="llama3.2:3b", messages=HI)
    with StateDir(tmp_path / "state") as state:
        chats, _ = state.chat_history(0)
        probes, probed = state.probe_history(0)
    assert [(c.instance, c.model, c.outcome, c.failovers) for c in chats] == [
        ("gpu-a", "llama3.2:3b", "ok", 0)
    ]
    assert chats[0].ttft_ms is not None and chats[0].tokens_per_second is not None
    assert probed >= 1 and {p.instance for p in probes} <= {"gpu-a", "gpu-b", "emb"}


async def test_a_failover_leaves_one_row_per_instance_tried(sim: Sim, tmp_path: Path) -> None:
    sim.servers["gpu-a"].faults.fail_next(status=503, message="server busy", path="/api/chat")
    async with fleet_with_state(sim, tmp_path / "state") as fleet:
        await fleet.chat(model="llama3.2:3b", messages=HI)
    with StateDir(tmp_path / "state") as state:
        chats, _ = state.chat_history(0)
    assert [(c.instance, c.outcome, c.reason, c.failovers) for c in chats] == [
        ("gpu-a", "failed", "busy (HTTP 503)", 0),
        ("gpu-b", "ok", None, 1),
    ]


async def test_a_refused_chat_is_recorded_as_refused(sim: Sim, tmp_path: Path) -> None:
    sim.servers["gpu-a"].faults.fail_next(status=400, message="invalid options", path="/api/chat")
    async with fleet_with_state(sim, tmp_path / "state") as fleet:
        with pytest.raises(ChatFailed):
            await fleet.chat(model="llama3.2:3b", messages=HI)
    with StateDir(tmp_path / "state") as state:
        chats, _ = state.chat_history(0)
    assert [(c.instance, c.outcome) for c in chats] == [("gpu-a", "refused")]


async def test_a_chat_no_instance_could_take_is_recorded(sim: Sim, tmp_path: Path) -> None:
    async with fleet_with_state(sim, tmp_path / "state") as fleet:
        with pytest.raises(NoInstanceAvailable):
            await fleet.chat(model="nomic-embed-text", messages=HI)
    with StateDir(tmp_path / "state") as state:
        chats, _ = state.chat_history(0)
    assert [(c.instance, c.outcome) for c in chats] == [("", "unavailable")]


async def test_without_a_state_directory_nothing_is_written(
    make_fleet: Callable[..., Fleet], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with make_fleet() as fleet:
        await fleet.chat(model="llama3.2:3b", messages=HI)
    assert not (tmp_path / ".orc").exists()
