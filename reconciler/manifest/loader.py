"""Load a fleet from manifest files: find, parse, check against the schema, check, resolve.

Each stage reports diagnostics instead of raising, so one run shows every problem of every file.
A fleet with any error produces no `DesiredFleet` at all: nothing downstream can turn a broken
manifest into deletions.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from reconciler.desired import DesiredFleet
from reconciler.errors import ManifestError
from reconciler.manifest.badfields import beside_dropped, drop_fields, fill_missing
from reconciler.manifest.crossrefs import cross_diagnostics
from reconciler.manifest.diagnostics import Diagnostic, Severity
from reconciler.manifest.document import ParsedDocument, YamlDocument, display_path
from reconciler.manifest.files import MANIFEST_SUFFIXES, find_manifest_files
from reconciler.manifest.models import MODEL_BY_KIND
from reconciler.manifest.resolve import resolve_fleet
from reconciler.manifest.semantics import document_diagnostics
from reconciler.manifest.weights import confinement_diagnostics, with_digests
from reconciler.manifest.yamlload import read_documents

__all__ = ["MANIFEST_SUFFIXES", "LoadResult", "find_manifest_files", "load_fleet"]

_DROP_ROUNDS = 4


@dataclass(slots=True)
class LoadResult:
    """What loading found: the fleet (None when there is any error), diagnostics, files read."""

    fleet: DesiredFleet | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        """Whether there is no error (warnings allowed)."""
        return not self.errors

    @property
    def errors(self) -> list[Diagnostic]:
        """The error diagnostics, in file and line order."""
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        """The warning diagnostics, in file and line order."""
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    def raise_for_errors(self) -> None:
        """Raise `ManifestError` naming the first error (and how many more) when not ok."""
        errors = self.errors
        if not errors:
            return
        first = errors[0]
        message = f"{first.field_path}: {first.message}" if first.field_path else first.message
        if len(errors) > 1:
            message = f"{message} (and {len(errors) - 1} more; run `orc validate`)"
        raise ManifestError(message, where=first.location)


def load_fleet(paths: Sequence[Path | str]) -> LoadResult:
    """Load every manifest under `paths` (files, or folders searched for *.yaml/*.yml).

    Never raises for bad input: every problem is a diagnostic of the result.
    """
    with _collector_paused():
        return _load(paths)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while loading.

    Loading allocates many small objects and no reference cycles; without the pause, repeated
    full collections over the growing heap take about a third of the time on a large fleet.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load(paths: Sequence[Path | str]) -> LoadResult:
    files, diagnostics = find_manifest_files(Path(path) for path in paths)
    documents: list[YamlDocument] = []
    for source in files:
        found, problems = read_documents(source, display_path(source))
        documents += found
        diagnostics += problems
    result = LoadResult(fleet=None, files=files)
    parsed: list[ParsedDocument] = []
    for doc in documents:
        item, problems = _parse(doc)
        diagnostics += problems
        if item is not None:
            parsed.append(item)
            diagnostics += _checked(item)
    mappings = [doc for doc in documents if isinstance(doc.data, dict)]
    diagnostics += cross_diagnostics(mappings, parsed)
    roots = [_root(Path(p)) for p in paths]
    diagnostics += confinement_diagnostics(parsed, roots)
    fleet, conflicts = resolve_fleet([item for item in parsed if item.conforms])
    diagnostics += conflicts
    result.kinds = Counter(doc.kind for doc in mappings if doc.kind in MODEL_BY_KIND)
    result.diagnostics = _ordered(diagnostics, files)
    if result.ok:
        fleet, unreadable = with_digests(fleet)
        result.diagnostics = _ordered(diagnostics + unreadable, files)
    result.fleet = fleet if result.ok else None
    return result


def _root(path: Path) -> Path:
    """The folder a path given on the command line stands for (a file's own folder).

    A path that cannot be examined was reported already; its parent is as good a guess as any.
    """
    try:
        return path if path.is_dir() else path.parent
    except OSError:
        return path.parent


def _parse(doc: YamlDocument) -> tuple[ParsedDocument | None, list[Diagnostic]]:
    """The typed model of a document (less the fields that broke the schema) and its errors.

    The models accept nothing the schema rejects, so a document they accept skips the (much
    slower) schema validation; any other document gets the schema's full list of errors.
    """
    if not isinstance(doc.data, dict):
        what = "a list" if isinstance(doc.data, list) else "a single value"
        hint = "a manifest document is a mapping with apiVersion, kind, metadata and spec"
        return None, [doc.error((), f"the document is {what}, not a mapping", hint=hint)]
    model_type = MODEL_BY_KIND.get(doc.kind or "")
    if model_type is not None:
        try:
            return ParsedDocument(doc, model_type.model_validate(doc.data)), []
        except ValidationError as exc:
            rejected = exc
    # here: only a rejected document needs the schema (and jsonschema)
    from reconciler.manifest.schema import schema_diagnostics

    problems = schema_diagnostics(doc)
    if model_type is None:
        return None, problems
    if not problems:
        return None, [doc.error(tuple(e["loc"]), e["msg"]) for e in rejected.errors()]
    data, removed = drop_fields(doc.data, (d.path for d in problems))
    data = fill_missing(data, (d.path for d in problems), _serial(doc))
    for _ in range(_DROP_ROUNDS):
        try:
            return ParsedDocument(
                doc, model_type.model_validate(data), frozenset(removed)
            ), problems
        except ValidationError as exc:
            # a required field was removed: remove the mapping that needed it
            paths = [
                tuple(e["loc"])[: -1 if e["type"] == "missing" else None] for e in exc.errors()
            ]
            data, more = drop_fields(data, paths)
            if not more:
                break
            removed |= more
    return None, problems


def _serial(doc: YamlDocument) -> int:
    """A number that tells this document from every other of the run (for stand-in values)."""
    return hash((doc.file, doc.index)) & 0xFFFFFF


def _checked(item: ParsedDocument) -> list[Diagnostic]:
    found = document_diagnostics(item)
    return [d for d in found if not beside_dropped(d, item.dropped)] if item.dropped else found


def _ordered(diagnostics: list[Diagnostic], files: list[Path]) -> list[Diagnostic]:
    rank = {display_path(path): index for index, path in enumerate(files)}
    unique = list(dict.fromkeys(diagnostics))
    return sorted(unique, key=lambda d: (rank.get(d.file, -1), d.line, d.column))
