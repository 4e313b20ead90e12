"""Build one YAML document from the parser's events, iteratively, recording node positions.

The builder keeps an explicit stack instead of recursing, so nesting depth is bounded by a limit
of our own rather than by the interpreter (or by the C composer, which crashes). Aliases share the
anchored value, and their expanded size counts against a node budget, so an alias "bomb" stops
early. Problems are diagnostics; `BuildAborted` stops the file when going on is not possible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.manifest.diagnostics import Diagnostic, FieldPath, Severity, Span, make_diagnostic

YamlLoader = yaml.SafeLoader | yaml.CSafeLoader
# libyaml's parser when PyYAML was built with it (much faster), else the pure-Python one.
Loader: type[YamlLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 64
MAX_NODES = 100_000

_TAG = "tag:yaml.org,2002:"
_STRING_TAGS = frozenset(_TAG + t for t in ("str", "timestamp", "value", "merge"))
_COLLECTION_TAGS = frozenset({None, "!", _TAG + "map", _TAG + "seq"})
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_CONSTRUCT = {
    _TAG + "null": _CONSTRUCTOR.construct_yaml_null,
    _TAG + "bool": _CONSTRUCTOR.construct_yaml_bool,
    _TAG + "int": _CONSTRUCTOR.construct_yaml_int,
    _TAG + "float": _CONSTRUCTOR.construct_yaml_float,
}


_RESOLVED: dict[tuple[str, tuple[bool, bool]], str] = {}
_RESOLVED_LIMIT = 50_000


class BuildAborted(Exception):
    """The rest of the file cannot be read; the reason is already a diagnostic."""


class _Marker:
    """A unique placeholder in a mapping frame's pending-key slot."""


_NO_KEY = _Marker()
_MERGE = _Marker()
_SKIP = _Marker()


@dataclass(slots=True)
class _Frame:
    """A mapping or sequence being built."""

    value: dict[str, Any] | list[Any]
    path: FieldPath
    start: Any  # the parser's Mark where the collection starts
    anchor: str | None
    key: str | _Marker = _NO_KEY
    key_span: Span = field(default_factory=Span)
    key_lines: dict[str, int] = field(default_factory=dict)
    merges: list[tuple[Any, Span]] = field(default_factory=list)
    size: int = 1


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


_new_span = tuple.__new__  # Span's own __new__ is Python code; every node of a document has a span


def span_of(start: Any, end: Any) -> Span:
    """A 1-based span from PyYAML's 0-based marks (of either parser)."""
    return _new_span(Span, (start.line + 1, start.column + 1, end.line + 1, end.column + 1))


class DocumentBuilder:
    """Consumes the events of one document (up to its end) and builds its value."""

    def __init__(self, loader: YamlLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.root: Any = None
        self.spans: dict[FieldPath, Span] = {}
        self.key_spans: dict[FieldPath, Span] = {}
        self.diagnostics: list[Diagnostic] = []
        self._stack: list[_Frame] = []
        self._anchors: dict[str, tuple[Any, int]] = {}
        self._building: set[str] = set()
        self._nodes = 0

    def run(self) -> None:
        """Read events up to and including the document's end."""
        get_event = self.loader.get_event
        handlers: dict[type[Any], Callable[[Any], None]] = {
            yaml.ScalarEvent: self._scalar,
            yaml.MappingStartEvent: self._start,
            yaml.SequenceStartEvent: self._start,
            yaml.MappingEndEvent: self._end,
            yaml.SequenceEndEvent: self._end,
            yaml.AliasEvent: self._alias,
        }
        while True:
            event = get_event()
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)
            elif isinstance(event, yaml.DocumentEndEvent):
                return

    def _report(self, span: Span, message: str, path: FieldPath = ()) -> None:
        diagnostic = make_diagnostic(Severity.ERROR, message, file=self.file, span=span, path=path)
        self.diagnostics.append(diagnostic)

    def _abort(self, span: Span, message: str) -> BuildAborted:
        self._report(span, f"{message}; the rest of the file was not read")
        return BuildAborted(message)

    def _in_key_position(self) -> bool:
        if not self._stack:
            return False
        frame = self._stack[-1]
        return frame.key is _NO_KEY and type(frame.value) is dict

    def _child_path(self) -> FieldPath:
        if not self._stack:
            return ()
        frame = self._stack[-1]
        if type(frame.value) is list:
            return (*frame.path, len(frame.value))
        key = frame.key
        return (*frame.path, key if type(key) is str else "<<")

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        span = span_of(event.start_mark, event.end_mark)
        tag, text = event.tag, event.value
        if self._in_key_position():
            merge = text == "<<" and tag is None and event.implicit[0]
            self._key(text, span, merge=merge)
            return
        if tag is None or tag == "!":
            tag = self._resolve(text, event.implicit)
        path = self._child_path()
        value = text if tag in _STRING_TAGS else self._scalar_value(tag, text, span, path)
        if event.anchor:
            self._anchors[event.anchor] = (value, 1)
        self.spans[path] = span
        self._attach(value, 1, span)

    def _resolve(self, text: str, implicit: tuple[bool, bool]) -> str:
        """The implicit tag of a plain or quoted scalar (memoised: values repeat a lot)."""
        key = (text, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            if len(_RESOLVED) > _RESOLVED_LIMIT:
                _RESOLVED.clear()
            resolved = self.loader.resolve(yaml.ScalarNode, text, implicit)  # type: ignore[no-untyped-call]
            tag = _RESOLVED[key] = str(resolved)
        return tag

    def _scalar_value(self, tag: str, text: str, span: Span, path: FieldPath) -> Any:
        if tag in _STRING_TAGS:
            return text
        construct = _CONSTRUCT.get(tag)
        if construct is None:
            self._report(span, f"unsupported YAML tag {_short(tag)!r}", path)
            return text
        try:
            return construct(yaml.ScalarNode(tag, text))
        except (ValueError, OverflowError):
            self._report(span, "number too large", path)
            return text

    def _key(self, key: str, span: Span, *, merge: bool) -> None:
        frame = self._stack[-1]
        frame.key_span = span
        if key in frame.key_lines:
            first = frame.key_lines[key]
            self._report(
                span,
                f"duplicate key {key!r} (first defined at line {first})",
                (
                    *frame.path,
                    key,
                ),
            )
            frame.key = _SKIP
            return
        frame.key_lines[key] = span.line
        frame.key = _MERGE if merge else key
        if not merge:
            self.key_spans[(*frame.path, key)] = span

    def _start(self, event: yaml.MappingStartEvent | yaml.SequenceStartEvent) -> None:
        span = span_of(event.start_mark, event.end_mark)
        if self._in_key_position():
            raise self._abort(span, "a mapping key must be a plain value, not a collection")
        if len(self._stack) >= MAX_DEPTH:
            raise self._abort(span, f"the document is nested deeper than {MAX_DEPTH} levels")
        path = self._child_path()
        if event.tag not in _COLLECTION_TAGS:
            self._report(span, f"unsupported YAML tag {_short(event.tag or '')!r}", path)
        is_map = isinstance(event, yaml.MappingStartEvent)
        value: dict[str, Any] | list[Any] = {} if is_map else []
        if event.anchor:
            self._building.add(event.anchor)
        self._stack.append(
            _Frame(value=value, path=path, start=event.start_mark, anchor=event.anchor)
        )

    def _end(self, event: yaml.MappingEndEvent | yaml.SequenceEndEvent) -> None:
        frame = self._stack.pop()
        span = span_of(frame.start, event.end_mark)
        self.spans[frame.path] = span
        if frame.merges and isinstance(frame.value, dict):
            self._merge(frame, frame.value)
        if frame.anchor:
            self._building.discard(frame.anchor)
            self._anchors[frame.anchor] = (frame.value, frame.size)
        self._nodes -= frame.size - 1  # children were counted as they were attached
        self._attach(frame.value, frame.size, span)

    def _merge(self, frame: _Frame, target: dict[str, Any]) -> None:
        for source, span in frame.merges:
            sources = source if isinstance(source, list) else [source]
            if not all(isinstance(item, dict) for item in sources):
                self._report(span, "a merge key '<<' needs a mapping or a list of mappings")
                continue
            for item in sources:
                for key, value in item.items():
                    if key not in target:
                        target[key] = value
                        self.spans[(*frame.path, key)] = span
                        self.key_spans[(*frame.path, key)] = span

    def _alias(self, event: yaml.AliasEvent) -> None:
        span = span_of(event.start_mark, event.end_mark)
        anchor = event.anchor or ""
        if anchor in self._building:
            raise self._abort(span, f"recursive alias *{anchor}")
        if anchor not in self._anchors:
            raise self._abort(span, f"alias *{anchor} refers to no anchor")
        value, size = self._anchors[anchor]
        if self._in_key_position():
            if not isinstance(value, str):
                raise self._abort(span, "a mapping key must be a plain value, not a collection")
            self._key(value, span, merge=False)
            return
        self.spans[self._child_path()] = span
        self._attach(value, size, span)

    def _attach(self, value: Any, size: int, span: Span) -> None:
        self._nodes += size
        if self._nodes > MAX_NODES:
            raise self._abort(span, f"the document has more than {MAX_NODES} nodes")
        if not self._stack:
            self.root = value
            return
        frame = self._stack[-1]
        frame.size += size
        target = frame.value
        if isinstance(target, list):
            target.append(value)
            return
        key, frame.key = frame.key, _NO_KEY
        if isinstance(key, str):
            target[key] = value
        elif key is _MERGE:
            frame.merges.append((value, span))
