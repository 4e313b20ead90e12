"""Probe rounds collect cyclic garbage less often, and put the collector's thresholds back."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import httpx
import pytest

from reconciler.desired import DesiredFleet, DesiredInstance
from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.probe import Observer, fewer_collections


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_a_round_raises_the_first_threshold_and_puts_it_back() -> None:
    with fewer_collections():
        inside = gc.get_threshold()
    assert inside[0] > 10_000 and inside[1:] == (10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_rounds_share_one_raise_and_the_last_one_out_restores() -> None:
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    raised = gc.get_threshold()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == raised  # the second round still runs
    second.__exit__(None, None, None)
    assert gc.get_threshold() == (700, 10, 10)


def test_a_round_that_fails_restores_too() -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("boom")
    assert gc.get_threshold() == (700, 10, 10)


def test_thresholds_someone_set_during_the_round_are_kept() -> None:
    with fewer_collections():
        gc.set_threshold(5000, 20, 20)
    assert gc.get_threshold() == (5000, 20, 20)


@pytest.mark.parametrize("threshold", [(0, 10, 10), (200_000, 10, 10)])
def test_a_turned_off_or_higher_threshold_is_left_alone(threshold: tuple[int, int, int]) -> None:
    gc.set_threshold(*threshold)
    with fewer_collections():
        assert gc.get_threshold() == threshold
    assert gc.get_threshold() == threshold


def test_an_observer_round_runs_with_the_raised_threshold() -> None:
    seen: list[tuple[int, int, int]] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append(gc.get_threshold())
        if request.url.path == "/api/version":
            return httpx.Response(200, json={"version": "0.12.6"})
        return httpx.Response(200, json={"models": []})

    def factory(config: ClientConfig) -> OllamaClient:
        return OllamaClient(config, transport=httpx.MockTransport(handle))

    observer = Observer(None, factory, env={}, loaded_where_planned=True)
    desired = DesiredFleet(instances=(DesiredInstance("a", "http://a.test"),))
    asyncio.run(observer.fleet(desired))
    assert seen and all(t[0] > 10_000 for t in seen)
    assert gc.get_threshold() == (700, 10, 10)
