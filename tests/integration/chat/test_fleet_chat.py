"""`Fleet` against simulated servers in process: selection, failover, probes, secrets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.chat import ChatFailed, Fleet, NoInstanceAvailable
from reconciler.errors import ManifestError, UsageError
from reconciler.observed import Health

from .conftest import TOKEN, Sim

HI = [{"role": "user", "content": "Reply with the single word OK."}]


async def test_the_priority_one_instance_serves(fleet: Fleet, sim: Sim) -> None:
    result = await fleet.chat(model="llama3.2:3b", messages=HI)
    assert (result.instance, result.priority, result.content) == ("gpu-a", 1, "OK")
    assert result.failovers == ()
    assert result.metrics.eval_count == 1
    assert sim.chats("gpu-a") == 1 and sim.chats("gpu-b") == 0


async def test_probes_are_reused_until_they_are_older_than_max_age(fleet: Fleet, sim: Sim) -> None:
    await fleet.chat(model="llama3.2:3b", messages=HI)
    await fleet.chat(model="llama3.2:3b", messages=HI)
    assert sim.probes("gpu-a") == 1
    sim.clock.offset += fleet.max_age + 1
    await fleet.chat(model="llama3.2:3b", messages=HI)
    assert sim.probes("gpu-a") == 2
    assert sim.probes("off") == 0  # a disabled instance is never a candidate: not probed


async def test_unreachable_at_chat_time_fails_over_and_is_remembered(
    fleet: Fleet, sim: Sim
) -> None:
    await fleet.status()
    sim.down.add("gpu-a")
    first = await fleet.chat(model="llama3.2:3b", messages=HI)
    assert first.instance == "gpu-b"
    assert [(f.instance, f.reason, f.tried) for f in first.failovers] == [
        ("gpu-a", "unreachable", True)
    ]
    assert "connection refused" in first.failovers[0].message
    sent = sim.sent["gpu-a"]
    again = await fleet.chat(model="llama3.2:3b", messages=HI)
    assert sim.sent["gpu-a"] == sent  # not tried again before its next probe
    assert [(f.instance, f.tried) for f in again.failovers] == [("gpu-a", False)]


async def test_busy_first_instance_fails_over(fleet: Fleet, sim: Sim) -> None:
    sim.servers["gpu-a"].faults.fail_next(status=503, message="server busy", path="/api/chat")
    result = await fleet.chat(model="llama3.2:3b", messages=HI)
    assert result.instance == "gpu-b"
    assert [f.reason for f in result.failovers] == ["busy (HTTP 503)"]


async def test_a_refused_request_stops_at_the_first_instance(fleet: Fleet, sim: Sim) -> None:
    sim.servers["gpu-a"].faults.fail_next(status=400, message="invalid options", path="/api/chat")
    with pytest.raises(ChatFailed, match="invalid options") as caught:
        await fleet.chat(model="llama3.2:3b", messages=HI)
    assert caught.value.where == "gpu-a/llama3.2:3b"
    assert sim.chats("gpu-b") == 0


async def test_an_embedding_model_is_never_sent_a_chat(fleet: Fleet, sim: Sim) -> None:
    with pytest.raises(NoInstanceAvailable) as caught:
        await fleet.chat(model="nomic-embed-text", messages=HI)
    reasons = {p.instance: p.reason for p in caught.value.passed_over}
    assert reasons == {
        "emb": "nomic-embed-text:latest is an embedding model and cannot chat "
        "(capabilities: embedding)",
        "gpu-a": "does not have nomic-embed-text:latest",
        "gpu-b": "nomic-embed-text:latest is an embedding model and cannot chat "
        "(capabilities: embedding)",
        "off": "disabled",
    }
    assert all(sim.chats(name) == 0 for name in sim.servers)


async def test_a_wrong_token_is_passed_over_and_never_shown(
    make_fleet: Callable[..., Fleet], sim: Sim
) -> None:
    sim.down.add("gpu-a")
    wrong = "wrong-SECRET-77e1"
    async with make_fleet(env={"GPU_B_TOKEN": wrong}) as fleet:
        with pytest.raises(NoInstanceAvailable) as caught:
            await fleet.chat(model="llama3.2:3b", messages=HI)
    text = str(caught.value)
    assert "gpu-b (priority 2) passed over: unauthorized" in text
    assert wrong not in text and TOKEN not in text
    assert wrong not in repr(caught.value.passed_over)


async def test_a_missing_token_variable_is_named(
    make_fleet: Callable[..., Fleet], sim: Sim
) -> None:
    sim.down.add("gpu-a")
    async with make_fleet(env={}) as fleet:
        with pytest.raises(NoInstanceAvailable, match="GPU_B_TOKEN"):
            await fleet.chat(model="llama3.2:3b", messages=HI)


async def test_the_stream_yields_the_reply_piece_by_piece(fleet: Fleet) -> None:
    stream = fleet.chat_stream(model="llama3.2:3b", messages=[{"role": "user", "content": "Hi"}])
    pieces = [chunk.content async for chunk in stream]
    assert len([p for p in pieces if p]) > 5
    assert "".join(pieces) == stream.result.content
    assert stream.result.time_to_first_token is not None
    assert stream.result.elapsed >= stream.result.time_to_first_token


async def test_a_forced_instance_serves_even_when_a_better_one_is_up(fleet: Fleet) -> None:
    result = await fleet.chat(model="llama3.2:3b", messages=HI, instance="gpu-b")
    assert result.instance == "gpu-b"


async def test_a_forced_disabled_instance_may_chat(fleet: Fleet) -> None:
    result = await fleet.chat(model="llama3.2:3b", messages=HI, instance="off")
    assert result.instance == "off"


async def test_an_unknown_instance_is_a_usage_error(fleet: Fleet) -> None:
    with pytest.raises(UsageError, match=r"no instance named 'gpu-z'.*declared: gpu-a, emb, gpu-b"):
        await fleet.chat(model="llama3.2:3b", messages=HI, instance="gpu-z")


async def test_status_and_instances(fleet: Fleet, sim: Sim) -> None:
    sim.down.add("emb")
    status = await fleet.status()
    assert {n: i.health for n, i in status.instances.items()} == {
        "gpu-b": Health.HEALTHY,
        "gpu-a": Health.HEALTHY,
        "emb": Health.UNREACHABLE,
        "off": Health.DISABLED,
    }
    assert [i.name for i in fleet.instances] == ["gpu-a", "emb", "gpu-b", "off"]
    assert repr(fleet) == "Fleet(['gpu-a', 'emb', 'gpu-b', 'off'])"


async def test_closing_the_fleet_closes_its_clients(
    make_fleet: Callable[..., Fleet], sim: Sim
) -> None:
    async with make_fleet() as fleet:
        await fleet.chat(model="llama3.2:3b", messages=HI)
        closed_before = len(sim.closed)  # the probes' own clients are closed already
    assert sim.closed[closed_before:] == ["gpu-a"]


def test_from_paths_refuses_invalid_manifests(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: ollama-reconciler/v1\nkind: Nope\n")
    with pytest.raises(ManifestError):
        Fleet.from_paths([tmp_path])
