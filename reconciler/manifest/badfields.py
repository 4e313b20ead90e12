"""Drop the fields of a document that broke the schema, to check the rest of it.

(Not the `prune` setting of an instance, which deletes undeclared models: see plan/diff.py.)

A document with a schema error would otherwise hide its semantic problems (a bad URL, a model
name Ollama rejects) until the schema errors are fixed. Removing the offending fields lets the
remaining ones be checked in the same run; findings next to a removed field are dropped, since
they may only be consequences of the removal.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from reconciler.manifest.diagnostics import Diagnostic, FieldPath


def drop_fields(
    data: dict[str, Any], paths: Iterable[FieldPath]
) -> tuple[dict[str, Any], set[FieldPath]]:
    """A copy of `data` without the fields at `paths` (a whole list for a bad list item)."""
    result = copy.deepcopy(data)
    removed: set[FieldPath] = set()
    for path in paths:
        target = path
        while target and isinstance(target[-1], int):
            target = target[:-1]
        container = _walk(result, target[:-1])
        if target and isinstance(container, dict) and target[-1] in container:
            del container[target[-1]]
            removed.add(target)
    return result, removed


# Required fields whose absence would otherwise cost the whole mapping around them (and with it
# every other finding in it): a stand-in keeps the rest checkable in the same run. The document
# is invalid all the same, so a stand-in never reaches a desired state.
_STAND_INS: dict[FieldPath, str] = {
    ("spec", "url"): "http://missing-url-{n}.invalid",
    ("metadata", "name"): "missing-name-{n}",
}


def fill_missing(data: dict[str, Any], paths: Iterable[FieldPath], n: int) -> dict[str, Any]:
    """A copy of `data` with a stand-in for each missing required field that has one.

    `n` makes stand-ins unique per document, so that two documents missing the same field are
    not taken for the same server or the same name.
    """
    result = copy.deepcopy(data)
    for path in paths:
        stand_in = _STAND_INS.get(tuple(path))
        container = _walk(result, path[:-1])
        if stand_in is not None and isinstance(container, dict) and path[-1] not in container:
            container[path[-1]] = stand_in.format(n=n)
    return result


def beside_dropped(diagnostic: Diagnostic, dropped: Iterable[FieldPath]) -> bool:
    """Whether a finding concerns a nested mapping (a TLS block, a model) that lost a field.

    The fields directly under `spec` and `metadata` are checked independently of each other, so
    removing one of them casts no doubt on findings about the others.
    """
    parents = {path[:-1] for path in dropped if len(path) > 2}
    return diagnostic.path[:-1] in parents


def _walk(data: Any, path: FieldPath) -> Any:
    for segment in path:
        if isinstance(data, dict) and isinstance(segment, str):
            data = data.get(segment)
        elif isinstance(data, list) and isinstance(segment, int) and 0 <= segment < len(data):
            data = data[segment]
        else:
            return None
    return data
