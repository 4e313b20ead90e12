"""The observed models a probe builds: the same values `ObservedModel(...)` would hold."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from reconciler import probe
from reconciler.names import parse
from reconciler.observed import ObservedModel
from reconciler.ollama import ModelEntry

VALUES = {
    "name": parse("llama3.2:3b"),
    "digest": "a" * 64,
    "size": 2019393189,
    "modified_at": "2026-11-30 06:26:51.357533+00:00",
    "family": "llama",
    "parameter_size": "3.2B",
    "quantization": "Q4_K_M",
    "context_length": 131072,
    "capabilities": ("completion", "tools"),
    "system": "be brief",
    "template": "{{ .Prompt }}",
    "parameters": {"stop": ["<|eot_id|>"]},
    "weights": "b" * 64,
    "loaded": True,
    "loaded_until": datetime(2026, 12, 1, tzinfo=UTC),
}


def test_the_built_model_equals_the_constructed_one_field_by_field() -> None:
    built = probe._observed_model(tuple(VALUES.values()))
    assert type(built) is ObservedModel
    assert built == ObservedModel(**VALUES)  # type: ignore[arg-type]
    assert repr(built) == repr(ObservedModel(**VALUES))  # type: ignore[arg-type]
    assert {f.name: getattr(built, f.name) for f in dataclasses.fields(built)} == VALUES


def test_the_built_model_is_as_frozen_as_a_constructed_one() -> None:
    built = probe._observed_model(tuple(VALUES.values()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.loaded = False  # type: ignore[misc]


def test_a_missing_or_extra_value_is_an_error_not_a_half_built_model() -> None:
    with pytest.raises(ValueError, match="zip"):
        probe._observed_model(tuple(VALUES.values())[:-1])
    with pytest.raises(ValueError, match="zip"):
        probe._observed_model((*VALUES.values(), None))


def test_the_fields_are_laid_out_as_the_probe_fills_them() -> None:
    # `_model` fills name, digest, size, modified_at, the description in its order, then the
    # loaded state; building without __init__ is right only while there is no __post_init__.
    order = ("name", "digest", "size", "modified_at", *probe._Description._fields)
    assert (*order, "loaded", "loaded_until") == probe._OBSERVED_FIELDS
    assert not hasattr(ObservedModel, "__post_init__")
    assert "__slots__" in vars(ObservedModel)


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-30T06:26:51.357533387Z",
        "2024-05-01T10:00:00+02:00",
        "2024-05-01T10:00:00",
        "2024-05-01T10:00:00.5-07:30",
    ],
)
def test_the_modification_time_reads_as_str_of_the_time(stamp: str) -> None:
    entry = ModelEntry.model_validate({"name": "llama3.2:3b", "modified_at": stamp})
    observer = probe.Observer(env={})
    seen = observer._model(entry, {}, None)
    assert seen.modified_at == str(entry.modified_at)
    assert seen.name == parse("llama3.2:3b")


def test_an_entry_without_a_time_has_none() -> None:
    entry = ModelEntry.model_validate({"name": "llama3.2:3b"})
    assert probe.Observer(env={})._model(entry, {}, None).modified_at is None


def test_offsets_survive() -> None:
    stamp = datetime(2024, 5, 1, 10, tzinfo=timezone(timedelta(hours=2)))
    entry = ModelEntry(name="x:1", modified_at=stamp)
    assert probe.Observer(env={})._model(entry, {}, None).modified_at == str(stamp)
