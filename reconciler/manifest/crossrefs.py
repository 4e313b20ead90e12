"""Checks across documents: unique names per kind, one Fleet, ModelSet references that resolve,
one OllamaInstance per server.

Documents that failed the schema still count for names, so that a broken ModelSet is reported
once (by its own errors) and not again as "unknown" wherever it is referenced.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.manifest.diagnostics import Diagnostic
from reconciler.manifest.document import ParsedDocument, YamlDocument
from reconciler.manifest.hints import suggest
from reconciler.manifest.models import OllamaInstance
from reconciler.manifest.selection import model_sets, sets_for
from reconciler.serverkey import server_key


def cross_diagnostics(
    documents: Sequence[YamlDocument], parsed: list[ParsedDocument]
) -> list[Diagnostic]:
    """Every problem that involves more than one document."""
    found = _unique_names(documents, "OllamaInstance")
    found += _unique_names(documents, "ModelSet")
    found += _single_fleet(documents)
    set_names = {doc.name for doc in documents if doc.kind == "ModelSet" and doc.name}
    for item in parsed:
        if isinstance(item.model, OllamaInstance):
            found += _references(item.doc, item.model, set_names)
    found += _unused_sets(documents, parsed)
    found += _one_server_once(parsed)
    return found


def _unique_names(documents: Sequence[YamlDocument], kind: str) -> list[Diagnostic]:
    first: dict[str, YamlDocument] = {}
    found: list[Diagnostic] = []
    for doc in documents:
        if doc.kind != kind or doc.name is None:
            continue
        if doc.name in first:
            where = first[doc.name].location(("metadata", "name"))
            message = f"duplicate {kind} name {doc.name!r} (first declared at {where})"
            found.append(doc.error(("metadata", "name"), message))
        else:
            first[doc.name] = doc
    return found


def _single_fleet(documents: Sequence[YamlDocument]) -> list[Diagnostic]:
    fleets = [doc for doc in documents if doc.kind == "Fleet"]
    where = fleets[0].location(("kind",)) if fleets else None
    message = f"only one Fleet document is allowed (the first is at {where})"
    return [doc.error(("kind",), message) for doc in fleets[1:]]


def _references(
    doc: YamlDocument, instance: OllamaInstance, set_names: set[str]
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    seen: set[str] = set()
    for index, name in enumerate(instance.spec.modelSets):
        path = ("spec", "modelSets", index)
        if name in seen:
            found.append(doc.error(path, f"ModelSet {name!r} is listed twice"))
        elif name not in set_names:
            close = suggest(name, set_names)
            hint = f"did you mean {close!r}?" if close else "no ModelSet of that name is declared"
            found.append(doc.error(path, f"unknown ModelSet {name!r}", hint=hint))
        seen.add(name)
    return found


def _one_server_once(parsed: list[ParsedDocument]) -> list[Diagnostic]:
    """An error for each enabled instance whose URL reaches the server of an earlier one.

    Two instances of one server, each with prune, would delete each other's models; with any
    settings they fight over the same inventory. A disabled instance never changes its server,
    so it may share one (to report it under another name). Malformed URLs are reported by their
    own check.
    """
    first: dict[str, tuple[YamlDocument, str]] = {}
    found: list[Diagnostic] = []
    for item in parsed:
        if not isinstance(item.model, OllamaInstance) or not item.model.spec.enabled:
            continue
        try:
            key = server_key(item.model.spec.url)
        except ValueError:
            continue
        name = item.model.metadata.name
        if key not in first:
            first[key] = (item.doc, name)
            continue
        doc, other = first[key]
        if other == name:
            continue  # reported as a duplicate name
        where = doc.location(("spec", "url"))
        message = (
            f"instance {name!r} is the same server as instance {other!r} ({where}): "
            f"both urls reach {key}"
        )
        hint = "declare each server once; two instances of one server undo each other's changes"
        found.append(item.doc.error(("spec", "url"), message, hint=hint))
    return found


def _unused_sets(
    documents: Sequence[YamlDocument], parsed: list[ParsedDocument]
) -> list[Diagnostic]:
    """A warning for each ModelSet that applies to no instance (when every instance is valid)."""
    instances = [item.model for item in parsed if isinstance(item.model, OllamaInstance)]
    all_conform = all(item.conforms for item in parsed)
    declared = sum(doc.kind == "OllamaInstance" for doc in documents)
    if not instances or len(instances) != declared or not all_conform:
        return []
    sets = model_sets(parsed)
    used = {s.name for instance in instances for s in sets_for(instance, sets)}
    hint = "name it in an instance's spec.modelSets or give it a selector that matches"
    return [
        s.doc.warning(("metadata", "name"), f"ModelSet {name!r} applies to no instance", hint=hint)
        for name, s in sets.items()
        if name not in used
    ]
