"""Diagnostics: one finding about a manifest, with the file, position and field it concerns.

Every stage of loading (YAML, schema, semantics, resolution) reports problems as values of this
type instead of raising, so that one run shows every error at once, in file and line order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]+")

PathSegment = str | int
FieldPath = tuple[PathSegment, ...]


class Severity(StrEnum):
    """How bad a finding is: errors make a manifest invalid, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


class Span(NamedTuple):
    """A region of a file, 1-based lines and columns; line 0 means "no position in the file"."""

    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A finding about a manifest: what is wrong, where, and (sometimes) what to do.

    `str(d)` is `FILE:LINE:COL: SEVERITY: FIELD.PATH: MESSAGE`; the field path is left out when
    empty, and the position when the finding concerns a whole file (`line == 0`).
    `message` already includes the hint; `hint` repeats it on its own for structured output.
    `path` is the field path as a tuple of keys and indexes, for programs.
    """

    severity: Severity
    message: str
    field_path: str = ""
    file: str = ""
    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0
    hint: str = ""
    path: FieldPath = field(default=(), compare=False, repr=False)

    @property
    def is_error(self) -> bool:
        """Whether this finding makes the manifests invalid."""
        return self.severity is Severity.ERROR

    @property
    def location(self) -> str:
        """`FILE:LINE:COL`, or just `FILE` when there is no position."""
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        where = f"{self.field_path}: " if self.field_path else ""
        return f"{self.location}: {self.severity}: {where}{self.message}"


def make_diagnostic(
    severity: Severity,
    message: str,
    *,
    file: str,
    span: Span,
    path: FieldPath = (),
    hint: str = "",
) -> Diagnostic:
    """Build a diagnostic, folding the hint into the message (`message (hint)`)."""
    text = f"{message} ({hint})" if hint else message
    return Diagnostic(
        severity=severity,
        message=text,
        field_path=format_path(path),
        file=file,
        line=span.line,
        column=span.column,
        end_line=span.end_line,
        end_column=span.end_column,
        hint=hint,
        path=tuple(path),
    )


def format_path(path: Sequence[PathSegment]) -> str:
    """A readable field path: `spec.models[2].name`, `spec.headers["X Y"]`."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif _SIMPLE_KEY.fullmatch(segment):
            text += f".{segment}" if text else segment
        else:
            escaped = segment.replace("\\", "\\\\").replace('"', '\\"')
            text += f'["{escaped}"]'
    return text
