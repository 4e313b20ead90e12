"""Fuzzing the loader: whatever bytes a manifest holds, `load_fleet` answers with diagnostics.

It never raises anything but the project's own errors, and a result with an error never carries
a fleet. Inputs: random bytes, random text, valid manifests with random text mutations, and
valid documents with random values written at random places (to reach the schema, semantic and
resolution stages with odd data).
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import ReconcilerError
from reconciler.manifest import load_fleet

VALID = Path(__file__).resolve().parents[2] / "manifests" / "valid"
SEED_TEXTS = [path.read_text() for path in sorted(VALID.rglob("*.y*ml"))]
SEED_DOCS = [doc for text in SEED_TEXTS for doc in yaml.safe_load_all(text) if doc]
YAML_BITS = [":", "- ", "[", "]", "{", "}", "&a ", "*a", "!!str ", "\t", "<<: *a\n", "? ", "---\n"]
YAML_BITS += ["\n  ", "'", '"', "#", "|\n", "~", "0x1F", "1e400", "9" * 40, "\x85", "\ufeff"]

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def check_never_crashes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(data)
        try:
            result = load_fleet([path])
        except ReconcilerError:
            return
        assert (result.fleet is not None) == result.ok
        assert all(d.line >= 0 and d.column >= 0 for d in result.diagnostics)
        assert all(str(d).startswith(d.file) for d in result.diagnostics)


@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes(data: bytes) -> None:
    check_never_crashes(data)


@FUZZ
@given(st.text(max_size=2000))
def test_random_text(text: str) -> None:
    check_never_crashes(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(
    st.sampled_from(SEED_TEXTS),
    st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 30), st.sampled_from(YAML_BITS) | st.text()),
        max_size=6,
    ),
)
def test_mutated_manifests(seed: str, edits: list[tuple[float, int, str]]) -> None:
    text = seed
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut :]
    check_never_crashes(text.encode("utf-8", "surrogatepass"))


def replace_at(doc: Any, choices: list[int], value: Any) -> Any:
    """Walk down `doc` following `choices` and put `value` where the walk stops."""
    node = doc
    for choice in choices:
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if not children:
            break
        key, child = children[choice % len(children)]
        if not isinstance(child, dict | list) or choice % 3 == 0:
            node[key] = value
            return doc
        node = child
    if isinstance(node, dict):
        node[f"extra{len(node)}"] = value
    return doc


@FUZZ
@given(
    st.lists(
        st.tuples(st.sampled_from(range(len(SEED_DOCS))), st.lists(st.integers(0, 50), max_size=6)),
        min_size=1,
        max_size=4,
    ),
    st.lists(json_values, min_size=4, max_size=4),
)
def test_valid_documents_with_random_values(
    picks: list[tuple[int, list[int]]], values: list[Any]
) -> None:
    docs = [
        replace_at(copy.deepcopy(SEED_DOCS[index]), path, value)
        for (index, path), value in zip(picks, values, strict=False)
    ]
    text = yaml.safe_dump_all(docs, allow_unicode=True)
    check_never_crashes(text.encode("utf-8", "surrogatepass"))
