"""Every example scenario round trips through `orc import`.

Simulated servers are set up as each example's instances (path prefix, endpoints, token) and
seeded with what the example declares by applying it; importing them with the example's
connection settings and planning the imported manifests gives no changes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from reconciler.adopt import ImportRequest, import_servers
from reconciler.desired import DesiredFleet, DesiredInstance, SecretRef
from reconciler.manifest import load_fleet
from reconciler.probe import client_config
from reconciler.reconcile import Reconciler, load_desired
from reconciler.testing import CATALOG

from .conftest import Servers

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SCENARIOS = sorted(
    d.name for d in EXAMPLES.iterdir() if d.is_dir() and d.name not in {"ci", "kubernetes"}
)
STAND_IN = CATALOG["llama3.1:8b"]  # published under the example's names the catalog lacks
ENV = {
    name: f"{name.lower()}-value-0123456789"
    for name in (
        "DEV_OLLAMA_TOKEN",
        "PROD_OLLAMA_TOKEN",
        "OLLAMA_PROD_TOKEN",
        "ENTERPRISE_API_KEY",
        "CLOUD_API_KEY",
    )
}


def _simulate(servers: Servers, instance: DesiredInstance) -> None:
    """A server like the example's, whose registry also has the models the catalog lacks."""
    config = client_config(instance, ENV)
    server = servers.add(
        instance.name,
        token=config.bearer_token,
        path_prefix=urlsplit(instance.url).path.rstrip("/"),
        endpoints=dict(instance.endpoints),
    )
    for model in instance.models:
        name = model.from_ if model.from_ is not None else model.name
        if model.state == "present" and name not in server.registry:
            server.registry.add(name.display, replace(STAND_IN, weights_seed=name.key))


async def _seed(servers: Servers, desired: DesiredFleet) -> None:
    """Apply the example to its empty servers (disabled ones too: they are only observed)."""
    everything = replace(
        desired, instances=tuple(replace(i, enabled=True) for i in desired.instances)
    )
    reconciler = Reconciler(client_factory=servers.client, env=ENV)
    _, made = await reconciler.plan(everything)
    result = await reconciler.apply(made, everything)
    assert [r.error for r in result.results if r.error] == []


def _request(instance: DesiredInstance, out: Path) -> ImportRequest:
    token = instance.bearer_token
    plain = {k: v for k, v in instance.headers.items() if not isinstance(v, SecretRef)}
    refs = {k: v.env for k, v in instance.headers.items() if isinstance(v, SecretRef) and v.env}
    return ImportRequest(
        urls=(instance.url,),
        out=out,
        name=instance.name,
        token_env=token.env if token else None,
        token_file=token.file if token else None,
        headers=plain,
        header_env=refs,
        endpoints=dict(instance.endpoints),
        tls=instance.tls,
        labels=dict(instance.labels),
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_an_example_round_trips_through_import(
    scenario: str, servers: Servers, tmp_path: Path
) -> None:
    desired = load_desired([EXAMPLES / scenario])
    for instance in desired.instances:
        _simulate(servers, instance)
    await _seed(servers, desired)

    out = tmp_path / scenario
    for instance in desired.instances:
        await import_servers(_request(instance, out), client_factory=servers.client, env=ENV)

    loaded = load_fleet([out])
    assert [str(d) for d in loaded.diagnostics] == []
    imported = load_desired([out])
    assert sorted(i.name for i in imported.instances) == sorted(i.name for i in desired.instances)
    for instance in desired.instances:
        wanted = {m.name for m in instance.models if m.state == "present"}
        got = imported.instance(instance.name)
        assert got is not None
        assert {m.name for m in got.models} >= wanted
    reconciler = Reconciler(client_factory=servers.client, env=ENV)
    _, made = await reconciler.plan(imported)
    assert [a.id for a in made.actions] == []
    assert not made.blocked
