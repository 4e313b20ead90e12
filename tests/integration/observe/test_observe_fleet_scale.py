"""Observing many instances that list the same models: the work done once per model name or
show reply, not once per instance, and every instance still its own inventory."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from reconciler import names
from reconciler.state import StateDir

MODELS = ("llama3.2:3b", "nomic-embed-text", "qwen2.5-coder:1.5b")


async def test_a_warm_round_parses_each_model_name_once_however_many_instances_list_it(
    world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(6):
        world.instance(f"node-{index}", models=MODELS)
    desired = world.desired()
    parsed: Counter[str] = Counter()
    real_parse = names.parse

    def counting(name: str) -> names.ModelName:
        parsed[name] += 1
        return real_parse(name)

    with StateDir(tmp_path / "state") as state:
        await world.observer(state).fleet(desired)  # fills the show cache
        monkeypatch.setattr(names, "parse", counting)  # the simulator's show would count too
        observed = await world.observer(state).fleet(desired)
    assert all(len(o.models) == len(MODELS) for o in observed.instances.values())
    assert set(parsed) == {real_parse(m).display for m in MODELS}
    assert set(parsed.values()) == {1}


async def test_instances_listing_one_model_keep_their_own_loaded_state_and_times(
    world, tmp_path: Path
) -> None:
    world.instance("busy", models=MODELS, loaded=("llama3.2:3b",), utc_offset_minutes=0)
    world.instance("idle", models=MODELS, utc_offset_minutes=120)
    with StateDir(tmp_path / "state") as state:
        observed = await world.observe(state)
    busy, idle = observed.instances["busy"], observed.instances["idle"]
    llama = names.parse("llama3.2:3b")
    loaded, resting = busy.model(llama), idle.model(llama)
    assert loaded is not None and resting is not None
    assert (loaded.loaded, resting.loaded) == (True, False)
    assert loaded.loaded_until is not None and resting.loaded_until is None
    assert loaded.modified_at != resting.modified_at  # each instance's own listing
    assert loaded.modified_at is not None and loaded.modified_at.endswith("+00:00")
    assert resting.modified_at is not None and resting.modified_at.endswith("+02:00")
    # what the show reply says is the same on both
    assert (loaded.family, loaded.capabilities, loaded.parameters) == (
        resting.family,
        resting.capabilities,
        resting.parameters,
    )
    assert {m.name for m in busy.models} == {m.name for m in idle.models}
