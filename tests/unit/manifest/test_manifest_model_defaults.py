"""Defaults of the manifest models: empty lists and mappings are made anew for each document,
never deep-copied from a shared default, and the published schema still shows them."""

from __future__ import annotations

import json

from reconciler.manifest.models import InstanceSpec, OllamaInstance
from reconciler.manifest.schemagen import build_schema
from tests.support.fresh_interpreter import run_fresh

PLAIN = {
    "apiVersion": "ollama-reconciler/v1",
    "kind": "OllamaInstance",
    "metadata": {"name": "one"},
    "spec": {"url": "http://127.0.0.1:11434"},
}


def test_a_plain_instance_is_validated_without_a_deep_copy() -> None:
    """pydantic deep-copies a mutable default for every document; a fleet of plain instances
    would pay that for each of their empty lists and mappings. (A fresh interpreter: pydantic
    keeps the `copy.deepcopy` it found first.)"""
    code = (
        "import copy, json\n"
        "real, copies = copy.deepcopy, []\n"
        "def counting(value, memo=None):\n"
        "    copies.append(type(value).__name__)\n"
        "    return real(value, memo)\n"
        "copy.deepcopy = counting\n"
        "from reconciler.manifest.models import OllamaInstance\n"
        f"first = OllamaInstance.model_validate({PLAIN!r})\n"
        f"second = OllamaInstance.model_validate({PLAIN!r})\n"
        "print(json.dumps({'copies': copies,\n"
        "    'fresh': first.spec.models is not second.spec.models\n"
        "        and first.metadata.labels is not second.metadata.labels}))\n"
    )
    found = json.loads(run_fresh(code).strip().splitlines()[-1])
    assert found == {"copies": [], "fresh": True}
    # each document still has its own empty values
    first, second = OllamaInstance.model_validate(PLAIN), OllamaInstance.model_validate(PLAIN)
    assert first.spec.models == [] and first.spec.headers == {} and first.metadata.labels == {}
    assert first.spec.smoke is not second.spec.smoke


def test_the_schema_shows_the_empty_defaults() -> None:
    spec = build_schema()["$defs"]["InstanceSpec"]["properties"]
    for name in ("headers", "modelSets", "models", "protect", "smoke"):
        default = InstanceSpec.model_fields[name].get_default(call_default_factory=True)
        assert spec[name]["default"] == default, name
    assert json.dumps(spec["headers"]["default"]) == "{}"
    assert json.dumps(spec["models"]["default"]) == "[]"
