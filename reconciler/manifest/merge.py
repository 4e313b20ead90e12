"""Merge the models an instance gets from itself and from its ModelSets, detecting conflicts.

Models are identified as Ollama identifies them (`llama3` == `llama3:latest`). The same model from
two sources is fine when the settings agree, and a conflict (naming both sources) when they differ:
guessing which one wins would silently change what gets pulled or deleted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from reconciler.desired import DesiredModel
from reconciler.manifest.diagnostics import FieldPath
from reconciler.manifest.document import YamlDocument
from reconciler.manifest.modelnames import parse_model_name
from reconciler.manifest.models import ModelSpec
from reconciler.manifest.weights import is_file_source, resolve_source
from reconciler.names import ModelName

if TYPE_CHECKING:
    from reconciler.desired import WeightsFile

_SETTINGS = (
    "state",
    "keep_loaded",
    "from_",
    "from_file",
    "system",
    "template",
    "parameters",
    "update",
)
_FIELD_NAMES = {"keep_loaded": "keepLoaded", "from_": "from", "from_file": "from"}


class ModelSource(NamedTuple):
    """One list of models: an instance's own, or a ModelSet's."""

    label: str  # "instance" or "modelset/<name>"
    doc: YamlDocument
    path: FieldPath
    models: Sequence[ModelSpec]


class Conflict(NamedTuple):
    """Two sources give one instance the same model with different settings."""

    instance: str
    model: DesiredModel
    earlier: DesiredModel
    doc: YamlDocument
    path: FieldPath
    fields: tuple[str, ...]


class MergedModels(NamedTuple):
    """The merged models of one instance, and the conflicts found."""

    models: tuple[DesiredModel, ...]
    conflicts: list[Conflict]


class SourceModels(NamedTuple):
    """The desired models of one list: each valid entry with its position, and the distinct
    models (the first of each name), which is what an instance with no other list gets."""

    entries: tuple[tuple[int, DesiredModel], ...]
    distinct: tuple[DesiredModel, ...]


# The desired models of one fleet's lists, by source label, id of its document and path: a
# ModelSet's entries become one frozen DesiredModel each, and its distinct models one tuple, shared
# by every instance it selects.
SharedModels = dict[tuple[str, int, FieldPath], SourceModels]


def merge_models(
    instance: str, sources: Sequence[ModelSource], shared: SharedModels | None = None
) -> MergedModels:
    """Merge sources in order; the first declaration of a model is kept.

    `shared` keeps the models made from each source for the other instances (the caller keeps
    the sources' documents alive while it is used)."""
    known: SharedModels = {} if shared is None else shared
    lists: list[tuple[ModelSource, SourceModels]] = []
    for source in sources:
        if source.models:
            key = (source.label, id(source.doc), source.path)
            made = known.get(key)
            if made is None:
                made = known[key] = source_models(source)
            lists.append((source, made))
    if not lists:
        return MergedModels((), [])
    if len(lists) == 1:  # within one list the first of a name wins, and nothing conflicts
        return MergedModels(lists[0][1].distinct, [])
    models: list[DesiredModel] = []
    conflicts: list[Conflict] = []
    index: dict[str, DesiredModel] = {}
    for source, made in lists:
        for position, model in made.entries:
            earlier = index.get(model.name.key)
            if earlier is None:
                index[model.name.key] = model
                models.append(model)
                continue
            differ = differing_settings(earlier, model)
            if differ and earlier.declared_by != source.label:
                path = (*source.path, position, "name")
                conflicts.append(Conflict(instance, model, earlier, source.doc, path, differ))
    return MergedModels(tuple(models), conflicts)


def source_models(source: ModelSource) -> SourceModels:
    """The desired models of one list (entries with an invalid name, reported already, left
    out)."""
    entries: list[tuple[int, DesiredModel]] = []
    distinct: dict[str, DesiredModel] = {}
    for position, spec in enumerate(source.models):
        model = desired_model(spec, source.label, source.doc, (*source.path, position))
        if model is not None:
            entries.append((position, model))
            distinct.setdefault(model.name.key, model)
    return SourceModels(tuple(entries), tuple(distinct.values()))


def desired_model(
    spec: ModelSpec, label: str, doc: YamlDocument, path: FieldPath
) -> DesiredModel | None:
    """The desired model of one entry, or None when a name in it is invalid (reported already)."""
    name = parse_model_name(spec.name)
    weights: WeightsFile | None = None
    base: ModelName | str | None = None
    if spec.from_ is not None and is_file_source(spec.from_):
        weights = _weights(doc, spec.from_)
    elif spec.from_ is not None:
        base = parse_model_name(spec.from_)
    if not isinstance(name, ModelName) or isinstance(base, str):
        return None
    return DesiredModel(
        name=name,
        state=spec.state,
        keep_loaded=spec.keepLoaded,
        from_=base,
        from_file=weights,
        update=spec.update,
        system=spec.system,
        template=spec.template,
        parameters=dict(spec.parameters),
        declared_by=label,
        location=doc.location(path),
    )


def _weights(doc: YamlDocument, raw: str) -> WeightsFile:
    """The weights file of a `from`; its digest is filled in once the manifests are valid."""
    from reconciler.desired import WeightsFile  # made on first use: few manifests need one

    path = resolve_source(doc.directory, raw)
    return WeightsFile(path=path.absolute(), source=raw, digest="")


def differing_settings(a: DesiredModel, b: DesiredModel) -> tuple[str, ...]:
    """Manifest names of the settings in which two declarations differ."""
    return tuple(
        _FIELD_NAMES.get(name, name)
        for name in _SETTINGS
        if _comparable(getattr(a, name)) != _comparable(getattr(b, name))
    )


def _comparable(value: object) -> object:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value
