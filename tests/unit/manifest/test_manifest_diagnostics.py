"""Diagnostics print as `FILE:LINE:COL: SEVERITY: FIELD.PATH: MESSAGE`; the public API is pinned."""

from __future__ import annotations

import pytest

from reconciler import manifest
from reconciler.manifest import Diagnostic, Severity
from reconciler.manifest.diagnostics import Span, format_path, make_diagnostic
from reconciler.manifest.hints import suggest, unknown_field_hint


def test_str_of_a_diagnostic() -> None:
    diagnostic = Diagnostic(Severity.ERROR, "bad", "spec.url", "a.yaml", 3, 8)
    assert str(diagnostic) == "a.yaml:3:8: error: spec.url: bad"
    assert (
        str(Diagnostic(Severity.WARNING, "odd", "", "a.yaml", 1, 1)) == "a.yaml:1:1: warning: odd"
    )
    assert str(Diagnostic(Severity.ERROR, "no such file or folder", file="x")) == (
        "x: error: no such file or folder"
    )


def test_hint_is_folded_into_the_message_and_kept_apart() -> None:
    diagnostic = make_diagnostic(
        Severity.ERROR,
        "unknown field 'x'",
        file="a.yaml",
        span=Span(2, 3, 2, 4),
        path=("x",),
        hint="did you mean 'y'?",
    )
    assert diagnostic.message == "unknown field 'x' (did you mean 'y'?)"
    assert diagnostic.hint == "did you mean 'y'?"
    assert (diagnostic.end_line, diagnostic.end_column, diagnostic.path) == (2, 4, ("x",))


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("spec", "models", 2, "name"), "spec.models[2].name"),
        (("spec", "headers", "X-API-Key"), "spec.headers.X-API-Key"),
        (
            ("metadata", "labels", "app.kubernetes.io/name"),
            'metadata.labels["app.kubernetes.io/name"]',
        ),
        (("spec", "headers", 'say "hi"'), 'spec.headers["say \\"hi\\""]'),
    ],
)
def test_field_paths_read_like_the_yaml(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text


def test_suggestions_for_unknown_fields() -> None:
    assert suggest("keeploaded", ["keepLoaded", "name"]) == "keepLoaded"
    assert suggest("pull_timeout", ["pullTimeout", "timeout"]) == "pullTimeout"
    assert suggest("zzz", ["name"]) is None
    assert unknown_field_hint(("spec",), "is_enabled", ["enabled"]) == (
        "the old is_enabled is now spec.enabled"
    )
    assert unknown_field_hint(("metadata",), "headers", ["name"]) == (
        "the old metadata.headers are now spec.headers"
    )
    assert unknown_field_hint(("spec",), "api_key", []).startswith(
        "the old api_key is now spec.auth.bearerToken"
    )


def test_public_api_is_pinned() -> None:
    assert sorted(manifest.__all__) == [
        "Diagnostic",
        "LoadResult",
        "Severity",
        "load_fleet",
        "resolve_secret",
    ]
