"""The committed JSON Schema is current, accepts the valid manifests, and agrees with the models."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.cli.main import main
from reconciler.desired import ENDPOINT_NAMES
from reconciler.manifest.models import MODEL_BY_KIND, Endpoints
from reconciler.manifest.schema import load_schema, schema_location
from reconciler.manifest.schemagen import build_schema, schema_text

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "schemas" / "manifest.v1.schema.json"
VALID = ROOT / "tests" / "manifests" / "valid"
VALID_DOCS = [
    doc for path in sorted(VALID.rglob("*.y*ml")) for doc in yaml.safe_load_all(path.read_text())
]
VALIDATOR = jsonschema.Draft202012Validator(json.loads(COMMITTED.read_text()))


def test_orc_schema_check_passes_on_the_committed_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--check"]) == 0
    assert "is up to date." in capsys.readouterr().out
    assert COMMITTED.read_text() == schema_text()


def test_orc_schema_check_fails_on_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "schema.json"
    stale.write_text(schema_text().replace("DNS label", "label"))
    assert main(["schema", "--check", "--out", str(stale)]) == 1
    assert f"{stale} is out of date: run `orc schema --out {stale}`" in capsys.readouterr().err
    assert main(["schema", "--check", "--out", str(tmp_path / "missing.json")]) == 1
    assert "is missing" in capsys.readouterr().err


def test_orc_schema_prints_and_writes_the_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == build_schema()
    out = tmp_path / "written.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert out.read_text() == schema_text()


def test_the_schema_is_a_valid_draft_2020_12_schema_found_at_run_time() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema())
    assert Path(str(schema_location())).read_text() == COMMITTED.read_text()


@pytest.mark.parametrize("doc", VALID_DOCS, ids=lambda doc: f"{doc['kind']}")
def test_the_schema_accepts_every_valid_manifest(doc: dict[str, Any]) -> None:
    assert list(VALIDATOR.iter_errors(doc)) == []


def test_the_schema_rejects_what_validate_rejects_structurally() -> None:
    doc = copy.deepcopy(VALID_DOCS[0])
    doc["spec"]["priority"] = 0
    doc["spec"]["base_url"] = "http://x"
    doc["spec"]["auth"] = {"bearerToken": {"env": "A", "file": "b"}}
    paths = sorted("/".join(map(str, e.absolute_path)) for e in VALIDATOR.iter_errors(doc))
    assert paths == ["spec", "spec/auth/bearerToken", "spec/priority"]


def test_endpoint_fields_are_exactly_the_desired_endpoint_names() -> None:
    fields = [info.alias or name for name, info in Endpoints.model_fields.items()]
    assert fields == list(ENDPOINT_NAMES)


def mutate(doc: Any, choices: list[int], value: Any) -> Any:
    node = doc
    for choice in choices:
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if not children:
            break
        key, child = children[choice % len(children)]
        if not isinstance(child, dict | list) or choice % 4 == 0:
            if choice % 5 == 0 and isinstance(node, dict):
                del node[key]
            else:
                node[key] = value
            return doc
        node = child
    return doc


values = st.none() | st.booleans() | st.integers(-3, 20) | st.floats() | st.text(max_size=6)
values |= st.sampled_from(["30s", "0s", "1h30m", "-1s", "/api", "env", "a b", "llama3", ""])
values |= st.sampled_from([{}, [], {"env": "X"}, {"env": "X", "file": "y"}, ["a"], 5.0])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(range(len(VALID_DOCS))), st.lists(st.integers(0, 40), max_size=6), values)
def test_whatever_the_models_accept_the_schema_accepts(
    index: int, choices: list[int], value: Any
) -> None:
    """The loader skips schema validation for documents the models accept: this keeps it sound."""
    model_type = MODEL_BY_KIND[VALID_DOCS[index]["kind"]]
    doc = mutate(copy.deepcopy(VALID_DOCS[index]), choices, value)
    try:
        model_type.model_validate(doc)
    except ValidationError:
        return
    assert list(VALIDATOR.iter_errors(doc)) == []
