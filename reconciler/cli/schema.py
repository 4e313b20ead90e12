"""`orc schema`: print, write or check the manifest JSON Schema generated from the models.

The committed `schemas/manifest.v1.schema.json` is the published contract (editors and
check-jsonschema use it); `orc schema --check` proves it matches the models, in CI and in tests.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.main import exit_codes_help
from reconciler.errors import ExitCode
from reconciler.manifest.schema import schema_location
from reconciler.manifest.schemagen import schema_text

HELP = """Print the manifest JSON Schema (draft 2020-12), generated from the models.

\b
Examples:
  orc schema                    print it
  orc schema --check            exit 1 if the committed file is out of date
  orc schema --out schemas/manifest.v1.schema.json
                                regenerate the committed file

\b
Editors pick it up from a modeline on the first line of a manifest:
  # yaml-language-server: $schema=<path or URL of manifest.v1.schema.json>
"""


EPILOG_EXIT_CODES = exit_codes_help(
    ExitCode.OK,
    ExitCode.ERROR,
    OK="printed or written; with --check: the committed schema is current",
    ERROR="with --check: the committed schema is out of date; or the file cannot be written",
)


@click.command("schema", help=HELP, epilog=EPILOG_EXIT_CODES)
@click.option(
    "--check",
    is_flag=True,
    help="Compare with the committed schema (or with --out FILE) instead of printing.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema to FILE instead of printing it.",
)
def schema(check: bool, out: Path | None) -> int:
    """Print, write or check the schema; returns the exit code."""
    text = schema_text()
    if check:
        return _check(text, out)
    if out is None:
        click.echo(text, nl=False)
        return int(ExitCode.OK)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.FileError(str(out), hint=exc.strerror or str(exc)) from exc
    click.echo(f"Wrote {out}.", err=True)
    return int(ExitCode.OK)


def _check(text: str, out: Path | None) -> int:
    target = out if out is not None else schema_location()
    try:
        committed = target.read_text(encoding="utf-8")
    except OSError:
        committed = None
    if committed == text:
        click.echo(f"{target} is up to date.")
        return int(ExitCode.OK)
    state = "missing" if committed is None else "out of date"
    click.echo(f"{target} is {state}: run `orc schema --out {target}`.", err=True)
    return int(ExitCode.ERROR)
