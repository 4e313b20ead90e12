"""Resolution of a ModelSet selecting many instances: one desired model per entry of the set,
listed by every instance it selects, beside each instance's own declarations."""

from __future__ import annotations

from pathlib import Path

from reconciler.manifest import load_fleet
from reconciler.names import parse

SET = """apiVersion: ollama-reconciler/v1
kind: ModelSet
metadata: {name: base}
spec:
  selector: {matchLabels: {tier: gpu}}
  models:
    - {name: "llama3.2:3b", keepLoaded: true}
    - name: "assistant:v1"
      from: "llama3.2:3b"
      system: "Be brief."
      parameters: {temperature: 0.2}
"""


def instance(name: str, own: str = "[]") -> str:
    return (
        "---\napiVersion: ollama-reconciler/v1\nkind: OllamaInstance\n"
        f"metadata: {{name: {name}, labels: {{tier: gpu}}}}\n"
        f"spec: {{url: 'http://{name}.test:11434', models: {own}}}\n"
    )


def test_the_instances_a_set_selects_list_its_models_each_once(tmp_path: Path) -> None:
    text = SET + instance("a") + instance("b", "[{name: 'qwen2.5:7b'}]") + instance("c")
    (tmp_path / "fleet.yaml").write_text(text, encoding="utf-8")
    result = load_fleet([tmp_path])
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.fleet is not None
    a, b, c = result.fleet.instances
    assert [m.name for m in b.models] == [parse("qwen2.5:7b"), *(m.name for m in a.models)]
    for shared, again, other in zip(a.models, b.models[1:], c.models, strict=True):
        assert shared is again is other  # one frozen model, whichever instance lists it
        assert shared.declared_by == "modelset/base"
        assert shared.location is not None and shared.location.file.endswith("fleet.yaml")
    assert dict(a.models[1].parameters) == {"temperature": 0.2}


def test_a_conflict_with_a_set_is_reported_for_every_instance_it_touches(tmp_path: Path) -> None:
    clash = "[{name: 'llama3.2:3b', keepLoaded: false}]"
    text = SET + instance("a", clash) + instance("b", clash) + instance("c")
    (tmp_path / "fleet.yaml").write_text(text, encoding="utf-8")
    result = load_fleet([tmp_path])
    assert result.fleet is None
    [error] = [str(d) for d in result.errors]
    assert "instances a, b" in error and "keepLoaded" in error


def test_the_instances_with_only_a_set_share_the_tuple_of_its_models(tmp_path: Path) -> None:
    """What an instance gets from one list alone is worked out once: the same tuple for every
    instance the set selects (the digest then writes it once)."""
    text = SET + instance("a") + instance("b", "[{name: 'qwen2.5:7b'}]") + instance("c")
    (tmp_path / "fleet.yaml").write_text(text, encoding="utf-8")
    result = load_fleet([tmp_path])
    assert result.fleet is not None
    a, b, c = result.fleet.instances
    assert a.models is c.models
    assert b.models is not a.models and b.models[1:] == a.models


def test_a_model_named_twice_in_one_set_is_one_error_and_no_conflict(tmp_path: Path) -> None:
    """A set that names one model twice (as `llama3` and `llama3:latest`, settings differing)
    is reported once, where it is written, whether an instance has the set alone or models of
    its own too; neither counts as a conflict between sources."""
    twice = SET.replace(
        '    - {name: "llama3.2:3b", keepLoaded: true}\n',
        '    - {name: "llama3", keepLoaded: true}\n    - {name: "llama3:latest"}\n',
    )
    text = twice + instance("a") + instance("b", "[{name: 'qwen2.5:7b'}]")
    (tmp_path / "fleet.yaml").write_text(text, encoding="utf-8")
    result = load_fleet([tmp_path])
    assert [d.message for d in result.errors] == [
        "model 'llama3:latest' is listed twice (first at line 7)"
    ]
