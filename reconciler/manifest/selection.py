"""Which ModelSets apply to an instance: those it names, then those whose selector matches.

Kubernetes semantics: a selector's matchLabels must all be among the instance's labels, and an
empty selector matches every instance; a set without a selector applies only where it is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from reconciler.manifest.document import ParsedDocument, YamlDocument
from reconciler.manifest.models import ModelSet, OllamaInstance


class ModelSetDocument(NamedTuple):
    """A schema-valid ModelSet with the document it came from (a pair: no dataclass to make at
    every start)."""

    doc: YamlDocument
    model: ModelSet

    @property
    def name(self) -> str:
        """The set's metadata.name."""
        return self.model.metadata.name


def model_sets(parsed: list[ParsedDocument]) -> dict[str, ModelSetDocument]:
    """The valid ModelSets by name (the first of a duplicated name wins)."""
    found: dict[str, ModelSetDocument] = {}
    for item in parsed:
        if isinstance(item.model, ModelSet):
            found.setdefault(item.model.metadata.name, ModelSetDocument(item.doc, item.model))
    return found


def selects(model_set: ModelSet, labels: Mapping[str, str]) -> bool:
    """Whether the set's selector matches these labels."""
    selector = model_set.spec.selector
    if selector is None:
        return False
    return all(labels.get(key) == value for key, value in selector.matchLabels.items())


def sets_for(
    instance: OllamaInstance, sets: Mapping[str, ModelSetDocument]
) -> list[ModelSetDocument]:
    """The sets applied to `instance`: named ones in the order named, then matching ones."""
    chosen: dict[str, ModelSetDocument] = {}
    for name in instance.spec.modelSets:
        if name in sets:
            chosen.setdefault(name, sets[name])
    for name, model_set in sets.items():
        if name not in chosen and selects(model_set.model, instance.metadata.labels):
            chosen[name] = model_set
    return list(chosen.values())
