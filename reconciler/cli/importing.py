"""`orc import`: adopt running servers by writing manifests that declare what they have.

The flags become an `ImportRequest`; `reconciler.adopt.import_servers` probes, declares and
writes; this module prints what was written. (The module is not named `import`: a keyword.)
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.adopt import ImportRequest, ImportResult, import_servers
from reconciler.cli.main import exit_codes_help
from reconciler.cli.options import run_async
from reconciler.desired import TLSSettings
from reconciler.errors import ExitCode, UsageError

HELP = """Probe running Ollama servers and write manifests that declare what they have.

One OllamaInstance manifest per server, written to --out DIR as NAME.yaml: models pulled from
a registry by name, models created on the server with `from`, `system`, `template` and
`parameters`, models loaded to stay (keep_alive -1) with `keepLoaded`. `orc plan DIR` right
after shows no changes. Secrets are written as references only ({env: VAR}, {file: PATH}).

\b
Names: --name NAME for one URL; NAME-1, NAME-2... for several; without it, a name derived
from each host (gpu-1.example.com -> gpu-1).

\b
Examples:
  orc import http://localhost:11434 --name local --out manifests
  orc import https://gpu-1.internal https://gpu-2.internal --token-env OLLAMA_TOKEN \\
      --labels tier=gpu --modelset gpu --out manifests
  orc import https://ollama.example.com/ollama --header-env X-API-Key=OLLAMA_KEY \\
      --header X-Client-ID=orc --out manifests --force
"""


def _pairs(flag: str, values: tuple[str, ...]) -> dict[str, str]:
    """`("k=v", "a=b,c=d")` → `{"k": "v", "a": "b", "c": "d"}` (commas split only for --labels)."""
    found: dict[str, str] = {}
    for value in values:
        items = value.split(",") if flag == "--labels" else [value]
        for item in items:
            key, sep, rest = item.partition("=")
            if not sep or not key.strip():
                raise UsageError(f"{flag} {item!r} is not KEY=VALUE")
            found[key.strip()] = rest.strip()
    return found


EPILOG_EXIT_CODES = exit_codes_help(
    ExitCode.OK,
    ExitCode.ERROR,
    ExitCode.INTERRUPTED,
    OK="the manifests were written",
    ERROR="a server did not answer, a file is in the way (--force), or bad usage: nothing written",
)


@click.command("import", help=HELP, epilog=EPILOG_EXIT_CODES)
@click.argument("urls", nargs=-1, required=True, metavar="URL [URL...]")
@click.option("--name", help="Instance name (NAME-1, NAME-2... for several URLs).")
@click.option("--token-env", metavar="VAR", help="Bearer token from this variable (written so).")
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Bearer token from this file (written relative to the manifest).",
)
@click.option("--header", "headers", multiple=True, metavar="K=V", help="A plain header.")
@click.option(
    "--header-env",
    "header_env",
    multiple=True,
    metavar="K=VAR",
    help="A header whose value is in variable VAR (credentials: Authorization, API keys).",
)
@click.option(
    "--endpoint", "endpoints", multiple=True, metavar="NAME=PATH", help="A path override."
)
@click.option("--ca-file", type=click.Path(path_type=Path, dir_okay=False), help="CA bundle.")
@click.option("--client-cert", type=click.Path(path_type=Path, dir_okay=False), help="mTLS.")
@click.option("--client-key", type=click.Path(path_type=Path, dir_okay=False), help="mTLS.")
@click.option("--labels", multiple=True, metavar="K=V[,K=V]", help="Labels of every instance.")
@click.option(
    "--modelset",
    metavar="NAME",
    help="Put the models all servers share into ModelSet NAME, selected by label modelset=NAME.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Folder to write the manifests to.",
)
@click.option("--force", is_flag=True, help="Replace manifests that already exist.")
def import_command(
    urls: tuple[str, ...],
    name: str | None,
    token_env: str | None,
    token_file: Path | None,
    headers: tuple[str, ...],
    header_env: tuple[str, ...],
    endpoints: tuple[str, ...],
    ca_file: Path | None,
    client_cert: Path | None,
    client_key: Path | None,
    labels: tuple[str, ...],
    modelset: str | None,
    out: Path,
    force: bool,
) -> int:
    """Import the servers; returns the exit code."""
    request = ImportRequest(
        urls=urls,
        out=out,
        name=name,
        token_env=token_env,
        token_file=token_file,
        headers=_pairs("--header", headers),
        header_env=_pairs("--header-env", header_env),
        endpoints=_pairs("--endpoint", endpoints),
        tls=TLSSettings(ca_file=ca_file, client_cert=client_cert, client_key=client_key),
        labels=_pairs("--labels", labels),
        modelset=modelset,
        force=force,
    )
    click.echo(render(run_async(import_servers(request))), nl=False)
    return int(ExitCode.OK)


def render(result: ImportResult) -> str:
    """What was written, one line per file, then the notes and the next step."""
    lines = []
    for path, adopted in result.files:
        models = adopted.instance.models
        details = f"{adopted.custom_count} custom, {adopted.kept_loaded_count} kept loaded"
        lines.append(f"Wrote {path}: {_count(len(models))} ({details}).")
    if result.modelset is not None:
        path, shared = result.modelset
        lines.append(f"Wrote {path}: {_count(len(shared))} every server has.")
    lines += [f"Note: {note}" for note in result.notes]
    folder = result.files[0][0].parent if result.files else Path(".")
    lines.append(f"Check them with: orc plan {folder}")
    return "\n".join(lines) + "\n"


def _count(n: int) -> str:
    return f"{n} model" + ("" if n == 1 else "s")
