"""`orc validate`: check manifests offline and print every problem, one per line.

Text output is one `FILE:LINE:COL: SEVERITY: FIELD.PATH: MESSAGE` line per finding and a summary;
JSON output has the shape of `terraform validate -json`, for editors and CI annotations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.cli.main import GlobalOptions, exit_codes_help
from reconciler.cli.paths import paths_argument
from reconciler.errors import ExitCode
from reconciler.manifest import Diagnostic, LoadResult, Severity, load_fleet

HELP = """Check manifests: YAML syntax, the JSON Schema, and the semantic rules.

PATH is a manifest file or a folder searched recursively for *.yaml and *.yml (hidden files and
folders are skipped). Every problem of every file is reported at once, with its file, line,
column and field path. Nothing is contacted: secrets are not read (a missing variable or secret
file is reported by `orc plan`), but TLS files must exist.

\b
Checked, among others:
  - apiVersion ollama-reconciler/v1; kind OllamaInstance, ModelSet or Fleet (at most one Fleet)
  - unknown fields (with the new name of old ProviderConfig fields), wrong types, missing fields
  - names (DNS labels, unique per kind), urls (http/https), priority 1..10, durations (30s, 5m)
  - model names in Ollama's grammar, ModelSet references, conflicting ModelSets
  - SecretRefs ({env: NAME} | {file: PATH} | {value: ...}; inline values are a warning)

\b
Examples:
  orc validate manifests/
  orc validate fleet.yaml models.yaml --format json

Exits 0 when the manifests are valid (warnings allowed), 1 otherwise.
"""


EPILOG_EXIT_CODES = exit_codes_help(
    ExitCode.OK,
    ExitCode.ERROR,
    OK="the manifests are valid (warnings do not fail)",
    ERROR="invalid manifests, or bad usage",
)


@click.command("validate", help=HELP, epilog=EPILOG_EXIT_CODES)
@paths_argument
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one line per problem and a summary; json: terraform-style, for tools.",
)
@click.pass_obj
def validate(options: GlobalOptions, paths: tuple[Path, ...], output_format: str) -> int:
    """Validate manifests and return the exit code (0 valid, 1 invalid)."""
    result = load_fleet(list(paths))
    color = options.color if isinstance(options, GlobalOptions) else None
    if output_format == "json":
        click.echo(json.dumps(render_json(result), indent=2))
    else:
        for line in render_text(result):
            click.echo(line, color=color)
    return int(ExitCode.OK if result.ok else ExitCode.ERROR)


def render_text(result: LoadResult) -> list[str]:
    """One line per diagnostic, then the summary line."""
    lines = [_styled(diagnostic) for diagnostic in result.diagnostics]
    lines.append(summary(result))
    return lines


def summary(result: LoadResult) -> str:
    """`2 errors, 1 warning in 3 files.` or `Valid: 3 files, 4 instances, 1 model set, ...`."""
    files = _count(len(result.files), "file")
    warnings = _count(len(result.warnings), "warning")
    if not result.ok:
        return f"{_count(len(result.errors), 'error')}, {warnings} in {files}."
    instances = _count(result.kinds["OllamaInstance"], "instance")
    sets = _count(result.kinds["ModelSet"], "model set")
    return f"Valid: {files}, {instances}, {sets}, {warnings}."


def render_json(result: LoadResult) -> dict[str, Any]:
    """The `terraform validate -json` shape."""
    return {
        "format_version": "1.0",
        "valid": result.ok,
        "error_count": len(result.errors),
        "warning_count": len(result.warnings),
        "diagnostics": [_json_diagnostic(d) for d in result.diagnostics],
    }


def _json_diagnostic(diagnostic: Diagnostic) -> dict[str, Any]:
    detail = diagnostic.field_path
    if diagnostic.hint:
        detail = f"{detail}: {diagnostic.hint}" if detail else diagnostic.hint
    return {
        "severity": str(diagnostic.severity),
        "summary": diagnostic.message,
        "detail": detail,
        "range": {
            "filename": diagnostic.file,
            "start": {"line": diagnostic.line, "column": diagnostic.column},
            "end": {"line": diagnostic.end_line, "column": diagnostic.end_column},
        },
    }


def _styled(diagnostic: Diagnostic) -> str:
    colour = "red" if diagnostic.severity is Severity.ERROR else "yellow"
    severity = str(diagnostic.severity)
    text = str(diagnostic)
    prefix = f"{diagnostic.location}: {severity}:"
    styled = f"{diagnostic.location}: {click.style(severity, fg=colour, bold=True)}:"
    return styled + text[len(prefix) :]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


__all__: Sequence[str] = ["render_json", "render_text", "summary", "validate"]
