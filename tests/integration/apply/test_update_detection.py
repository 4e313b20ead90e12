"""Update detection: registry digests against installed ones, `^ update`, `update: auto` pulls."""

from __future__ import annotations

import httpx

from reconciler.errors import ExitCode
from reconciler.ollama.registry import RegistryLookup
from reconciler.plan import ActionKind
from reconciler.report.plan_text import render_plan_text
from reconciler.testing import SimInstanceConfig, SimServer
from reconciler.testing.catalog import Registry

MODEL = "llama3.2:1b"
PATH = "/v2/library/llama3.2/manifests/1b"
TOKEN = "instance-secret-token-1234"
BASE = "http://registry.sim.test"


def upstream(rig, *, auto: bool = False, token: str | None = None, names=("ws",)):
    """Instances with MODEL installed, pulling from one shared registry, and that registry."""
    shared = Registry()
    registry = SimServer(SimInstanceConfig(name="registry"), registry=shared)
    for name in names:
        entry = {"name": MODEL, "update": "auto"} if auto else {"name": MODEL}
        spec = {"auth": {"bearerToken": {"value": token}}} if token else None
        server = rig.declare(name, [entry], installed=(MODEL,), spec=spec, token=token)
        server.registry = server.ctx.registry = shared
    lookup = RegistryLookup(
        base_url="http://registry.sim.test", transport=httpx.ASGITransport(app=registry.app)
    )
    return shared, registry, lookup


async def test_a_moved_tag_is_shown_as_an_update_only_when_asked(rig):
    shared, registry, lookup = upstream(rig)
    shared.move_tag(MODEL)

    _, quiet = await rig.reconciler(registry=lookup).plan(rig.desired())
    assert not quiet.has_changes
    assert registry.state.count(PATH) == 0  # no --check-updates, no auto: no lookup at all

    _, made = await rig.reconciler(registry=lookup, check_updates=True).plan(rig.desired())
    (action,) = made.actions
    assert action.kind is ActionKind.UPDATE
    assert "^ update llama3.2:1b (registry has a newer build)" in render_plan_text(made)
    assert made.summary().endswith("0 to delete, 1 to update.")
    assert made.to_dict()["counts"]["update"] == 1


async def test_an_unmoved_tag_is_no_update(rig):
    _, _, lookup = upstream(rig)
    _, made = await rig.reconciler(registry=lookup, check_updates=True).plan(rig.desired())
    assert not made.has_changes
    assert "update" not in made.to_dict()["counts"]


async def test_each_model_is_looked_up_once_per_run(rig):
    shared, registry, lookup = upstream(rig, names=("ws", "gw", "lab"))
    shared.move_tag(MODEL)
    reconciler = rig.reconciler(registry=lookup, check_updates=True)

    _, first = await reconciler.plan(rig.desired())
    _, second = await reconciler.plan(rig.desired())

    assert [a.instance for a in first.actions] == ["gw", "lab", "ws"]
    assert second.actions == first.actions
    assert registry.state.count(PATH) == 1
    assert lookup.requests == 1


async def test_a_registry_that_cannot_be_reached_is_a_warning_not_a_blocked_plan(rig):
    upstream(rig, auto=True)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    down = RegistryLookup(base_url=BASE, transport=httpx.MockTransport(refuse))
    _, made = await rig.reconciler(registry=down).plan(rig.desired())

    assert not made.blocked
    assert not made.refused
    assert made.warnings == (
        "could not check llama3.2:1b for updates: "
        "registry lookup of llama3.2:1b failed: ConnectError",
    )
    assert "Warning: could not check llama3.2:1b for updates" in render_plan_text(made)
    assert made.to_dict()["warnings"] == list(made.warnings)


async def test_update_auto_is_pulled_by_apply(rig):
    shared, _, lookup = upstream(rig, auto=True)
    newer = shared.move_tag(MODEL)
    reconciler = rig.reconciler(registry=lookup)
    desired = rig.desired()

    _, made = await reconciler.plan(desired)
    result = await reconciler.apply(made, desired)

    assert [a.kind for a in made.actions] == [ActionKind.UPDATE]
    assert result.exit_code is ExitCode.OK
    assert result.summary().endswith("0 deleted, 1 updated.")
    installed = rig.servers["ws"].state.find(MODEL)
    assert installed is not None
    assert installed.digest == newer
    assert not (await reconciler.verify(desired, result)).has_changes


async def test_the_instance_credentials_are_never_sent_to_the_registry(rig):
    shared, _, _ = upstream(rig, auto=True, token=TOKEN)
    seen: list[httpx.Request] = []
    spec = shared.get(MODEL)
    assert spec is not None

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"Docker-Content-Digest": "sha256:" + "0" * 64})

    lookup = RegistryLookup(base_url=BASE, transport=httpx.MockTransport(answer))
    _, made = await rig.reconciler(registry=lookup).plan(rig.desired())

    assert [a.kind for a in made.actions] == [ActionKind.UPDATE]
    (request,) = seen
    assert str(request.url) == f"http://registry.sim.test{PATH}"
    assert "authorization" not in request.headers
    assert all(TOKEN not in value for value in request.headers.values())
