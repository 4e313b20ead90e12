"""The valid fleets under tests/manifests/valid/ resolve into the desired state they describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.desired import DesiredInstance, SecretRef
from reconciler.manifest import LoadResult, load_fleet
from reconciler.names import parse

VALID = Path(__file__).resolve().parents[2] / "manifests" / "valid"


def load(name: str) -> LoadResult:
    result = load_fleet([VALID / name])
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.fleet is not None
    return result


def instance(result: LoadResult, name: str) -> DesiredInstance:
    assert result.fleet is not None
    found = result.fleet.instance(name)
    assert found is not None
    return found


def names_and_sources(item: DesiredInstance) -> list[tuple[str, str]]:
    return [(model.name.display, model.declared_by) for model in item.models]


@pytest.mark.parametrize("folder", sorted(p.name for p in VALID.iterdir() if p.is_dir()))
def test_orc_validate_accepts_every_valid_fleet(
    folder: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(VALID / folder)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("Valid: ")


def test_minimal_instance_gets_every_default() -> None:
    result = load("minimal")
    assert result.fleet is not None
    workstation = instance(result, "workstation")
    assert workstation.url == "http://localhost:11434"
    assert (workstation.enabled, workstation.priority, workstation.prune) == (True, 5, False)
    assert (workstation.timeout, workstation.pull_timeout) == (30.0, 7200.0)
    assert workstation.tls.verify is True
    assert workstation.models == ()
    fleet = result.fleet
    assert (fleet.parallelism, fleet.interval, fleet.name) == (None, 300.0, "default")
    assert (fleet.safety.allow_empty, fleet.safety.max_deletions) == (False, 10)


def test_design_example_resolves_every_field() -> None:
    result = load("design-example")
    gpu = instance(result, "prod-gpu-1")
    folder = VALID / "design-example"
    assert gpu.tls.ca_file == folder / "certs" / "ca.pem"
    assert gpu.tls.client_key == folder / "certs" / "c.key"
    assert gpu.bearer_token == SecretRef(env="PROD_OLLAMA_TOKEN")
    assert gpu.headers == {
        "X-Client-ID": "ai-coder-assistant",
        "X-API-Key": SecretRef(env="ENTERPRISE_API_KEY"),
    }
    assert gpu.endpoints == {
        "health": "/api/ollama/health",
        "listModels": "/api/ollama/models",
        "chat": "/api/ollama/chat",
    }
    assert names_and_sources(gpu) == [
        ("llama3.2:3b", "instance"),
        ("old-model:7b", "instance"),
        ("coder:latest", "instance"),
        ("qwen2.5-coder:7b", "modelset/coding"),
        ("nomic-embed-text:latest", "modelset/coding"),
    ]
    coder = gpu.model(parse("coder"))
    assert coder is not None and coder.is_custom
    assert coder.from_ == parse("qwen2.5-coder:7b")
    assert coder.parameters == {"num_ctx": 8192, "temperature": 0.2}
    absent = gpu.model(parse("old-model:7b"))
    assert absent is not None and absent.state == "absent"
    assert gpu.protect == ("llama3*",)
    assert gpu.smoke[0].expect == "(?i)\\bok\\b"
    assert gpu.models[0].location is not None
    assert (gpu.models[0].location.line, gpu.models[0].location.column) == (25, 7)


def test_fleet_defaults_fill_only_what_instances_leave_unset() -> None:
    result = load("selectors")
    gpu1, gpu2, cpu1 = (instance(result, n) for n in ("gpu-1", "gpu-2", "cpu-1"))
    assert (gpu1.timeout, gpu2.timeout, cpu1.timeout) == (10.0, 45.0, 45.0)
    assert {i.pull_timeout for i in (gpu1, gpu2, cpu1)} == {3600.0}
    assert (gpu1.priority, gpu2.priority, cpu1.priority) == (3, 7, 3)
    ca_file = VALID / "selectors" / "certs" / "ca.pem"
    assert (gpu1.tls.verify, gpu1.tls.ca_file) == (False, ca_file)  # merged field by field
    assert (cpu1.tls.verify, cpu1.tls.ca_file) == (True, ca_file)
    assert gpu1.headers == {"X-Team": "ml-platform", "x-client-id": "gpu-1-client"}
    assert cpu1.headers == {"X-Team": "ml-platform", "X-Client-ID": "fleet-default"}
    assert gpu1.url == "https://gpu-1.lab.example.com/ollama"
    assert cpu1.enabled is False
    assert result.fleet is not None
    assert (result.fleet.name, result.fleet.parallelism, result.fleet.interval) == ("lab", 4, 90.0)
    assert (result.fleet.safety.allow_empty, result.fleet.safety.max_deletions) == (True, 3)


def test_model_sets_apply_by_name_then_by_selector_without_duplicates() -> None:
    result = load("selectors")
    assert names_and_sources(instance(result, "gpu-1")) == [
        ("llama3.2:3b", "instance"),
        ("qwen2.5-coder:7b", "modelset/gpu-models"),
        ("llama3.1:8b", "modelset/gpu-models"),
        ("all-minilm:latest", "modelset/everyone"),
    ]
    assert names_and_sources(instance(result, "gpu-2")) == [
        ("nomic-embed-text:latest", "modelset/embeddings"),
        ("qwen2.5-coder:7b", "modelset/gpu-models"),
        ("llama3.1:8b", "modelset/gpu-models"),
        ("all-minilm:latest", "modelset/everyone"),
        ("LLAMA3.2:3B", "modelset/everyone"),
    ]
    assert names_and_sources(instance(result, "cpu-1")) == [
        ("llama3.2:1b", "instance"),
        ("all-minilm:latest", "modelset/everyone"),
        ("LLAMA3.2:3B", "modelset/everyone"),
    ]
    kept = instance(result, "gpu-2").model(parse("llama3.1:8b"))
    assert kept is not None and kept.keep_loaded


def test_secrets_stay_references_resolved_against_the_manifest_folder() -> None:
    result = load("secrets")
    remote = instance(result, "remote-dev")
    assert remote.bearer_token == SecretRef(file=VALID / "secrets" / "secrets" / "dev-token")
    assert remote.headers["X-API-Key"] == SecretRef(env="DEV_API_KEY")
    assert [d.field_path for d in result.warnings] == ["spec.headers.X-Debug-Token.value"]
    assert "not-really-secret" not in repr(result.fleet)


def test_anchors_aliases_and_merge_keys_resolve() -> None:
    result = load("anchors")
    edge = instance(result, "edge-1")
    assert (edge.timeout, edge.pull_timeout) == (90.0, 90.0)
    assert edge.labels == {"tier": "edge", "site": "lyon"}
    assert [(m.name.display, m.keep_loaded) for m in edge.models] == [
        ("phi3:mini", True),
        ("phi3:medium", True),
        ("gemma2:2b", False),
    ]
