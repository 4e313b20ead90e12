"""OllamaInstance manifests that point at a running simulated fleet (`orc sim --write-manifests`).

One file per instance, declaring the models the instance starts with (so a first `orc plan` finds
no changes), `keepLoaded` for the preloaded ones, and a smoke test. A token is referenced through
`ORC_SIM_TOKEN`, never written; a TLS instance names the CA file beside the manifests. The YAML is
written by hand (PyYAML belongs to the manifest loader) with JSON-quoted strings, which YAML reads
as double-quoted scalars.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from reconciler.errors import UsageError
from reconciler.testing.config import SimInstanceConfig

TOKEN_ENV = "ORC_SIM_TOKEN"
SMOKE_PROMPT = "Reply with the single word OK."
SMOKE_EXPECT = "(?i)\\bok\\b"
# The first line of every manifest `orc sim` writes: how it finds its own files again.
WRITTEN_BY = "# Written by `orc sim`"


def manifest_text(
    config: SimInstanceConfig, url: str, ca_file: str | None, chat_model: str | None
) -> str:
    """The YAML of the OllamaInstance manifest for one simulated instance."""
    q = json.dumps
    lines = [
        f"{WRITTEN_BY} for the simulated Ollama instance {config.name}.",
        "apiVersion: ollama-reconciler/v1",
        "kind: OllamaInstance",
        "metadata:",
        f"  name: {q(config.name)}",
        "  labels:",
        "    env: sim",
        "spec:",
        f"  url: {q(url)}",
    ]
    if config.tls and ca_file:
        lines += ["  tls:", f"    caFile: {q(ca_file)}"]
    if config.token:
        lines += ["  auth:", "    bearerToken:", f"      env: {TOKEN_ENV}"]
    if config.endpoints:
        lines.append("  endpoints:")
        lines += [f"    {name}: {q(path)}" for name, path in sorted(config.endpoints.items())]
    lines.append("  models:" if config.models else "  models: []")
    loaded = set(config.loaded)
    for model in config.models:
        lines.append(f"    - name: {q(model)}")
        if model in loaded:
            lines.append("      keepLoaded: true")
    if chat_model:
        lines += [
            "  smoke:",
            f"    - model: {q(chat_model)}",
            f"      prompt: {q(SMOKE_PROMPT)}",
            f"      expect: {q(SMOKE_EXPECT)}",
        ]
    return "\n".join(lines) + "\n"


def write_manifests(
    folder: Path,
    configs: list[SimInstanceConfig],
    urls: dict[str, str],
    ca_file: Path | None,
    chat_models: dict[str, str | None],
) -> list[Path]:
    """Write `<folder>/<name>.yaml` for each instance; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_reference = _relative(ca_file, folder) if ca_file else None
    written = []
    for config in configs:
        path = folder / f"{config.name}.yaml"
        text = manifest_text(config, urls[config.name], ca_reference, chat_models.get(config.name))
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check_manifests_folder(folder: Path, names: Iterable[str], force: bool) -> list[Path]:
    """The files an earlier `orc sim` wrote in `folder`, to be replaced; refuses without `force`.

    Without `force`, any manifest this run would write, or any left by an earlier run, is a usage
    error naming it: an old file would silently point `orc` at servers that no longer run.
    """
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--write-manifests {folder}: not a directory")
    previous = previous_manifests(folder)
    targets = [folder / f"{name}.yaml" for name in names]
    in_the_way = sorted({*previous, *(p for p in targets if p.exists())})
    if in_the_way and not force:
        raise UsageError(
            f"--write-manifests would replace {in_the_way[0]}"
            + (f" and {len(in_the_way) - 1} more" if len(in_the_way) > 1 else ""),
            hint="add --force to replace them (files an earlier orc sim wrote are removed), "
            "or choose another folder",
        )
    return previous


def previous_manifests(folder: Path) -> list[Path]:
    """The `*.yaml` files in `folder` whose first line says `orc sim` wrote them."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            with path.open("rb") as file:
                first = file.readline(200)
        except OSError:
            continue
        if path.is_file() and first.startswith(WRITTEN_BY.encode()):
            found.append(path)
    return found


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(path.resolve().relative_to(folder.resolve()))
    except ValueError:
        return str(path.resolve())
