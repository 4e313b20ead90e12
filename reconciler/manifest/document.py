"""One YAML document of a manifest file, as plain data plus the position of every node.

The later stages (schema, semantics, resolution) see plain dicts and lists, and ask the document
where a field path was written so that each diagnostic points at the right line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.desired import SourceLocation
from reconciler.manifest.diagnostics import Diagnostic, FieldPath, Severity, Span, make_diagnostic
from reconciler.manifest.models import Manifest


def display_path(path: Path) -> str:
    """How a file is named in messages: relative to the current folder when below it."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except (ValueError, OSError):
            return str(path)
    return str(path)


@dataclass(slots=True)
class YamlDocument:
    """A non-empty document: its data, the file it came from, and node positions by field path.

    `spans` holds the position of each value, `key_spans` the position of each mapping key.
    Paths under an alias have no entry of their own: they report the alias's position.
    """

    file: str
    source: Path
    index: int
    data: Any
    spans: dict[FieldPath, Span] = field(default_factory=dict)
    key_spans: dict[FieldPath, Span] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        """The folder relative paths in this document (secret and TLS files) are resolved from."""
        return self.source.parent

    @property
    def kind(self) -> str | None:
        """The document's `kind`, if it is a string."""
        value = self.data.get("kind") if isinstance(self.data, dict) else None
        return value if isinstance(value, str) else None

    @property
    def name(self) -> str | None:
        """The document's `metadata.name`, if it is a string."""
        metadata = self.data.get("metadata") if isinstance(self.data, dict) else None
        value = metadata.get("name") if isinstance(metadata, dict) else None
        return value if isinstance(value, str) else None

    def span(self, path: FieldPath, *, key: bool = False) -> Span:
        """Where `path` was written: its key (when `key` and it has one) or its value.

        Falls back to the nearest enclosing node that has a position.
        """
        if key and path in self.key_spans:
            return self.key_spans[path]
        probe = path
        while probe:
            found = self.spans.get(probe)
            if found is not None:
                return found
            probe = probe[:-1]
        return self.spans.get((), Span(1, 1, 1, 1))

    def location(self, path: FieldPath = ()) -> SourceLocation:
        """The source location of `path`, for the resolved desired state."""
        span = self.span(path)
        return SourceLocation(file=self.file, line=span.line, column=span.column)

    def error(
        self, path: FieldPath, message: str, *, key: bool = False, hint: str = ""
    ) -> Diagnostic:
        """An error about the node at `path` (its key's position when `key`)."""
        return self._diagnostic(Severity.ERROR, path, message, key=key, hint=hint)

    def warning(
        self, path: FieldPath, message: str, *, key: bool = False, hint: str = ""
    ) -> Diagnostic:
        """A warning about the node at `path`."""
        return self._diagnostic(Severity.WARNING, path, message, key=key, hint=hint)

    def _diagnostic(
        self, severity: Severity, path: FieldPath, message: str, *, key: bool, hint: str
    ) -> Diagnostic:
        span = self.span(path, key=key)
        return make_diagnostic(severity, message, file=self.file, span=span, path=path, hint=hint)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A document turned into its typed model.

    `dropped` lists the fields left out because they broke the schema (the document's errors are
    reported already); it is empty for a document that conforms. A document with dropped fields is
    still checked for further problems, but never resolved into the desired state.
    """

    doc: YamlDocument
    model: Manifest
    dropped: frozenset[FieldPath] = frozenset()

    @property
    def conforms(self) -> bool:
        """Whether the document passed the schema as written."""
        return not self.dropped
