"""Adopting running servers: `orc import` declares what they have, in manifests.

Each server is probed the way `orc plan` will see it (tags, ps, show of every model) and what is
there becomes the desired vocabulary (`declare`), reached with settings checked before anything
is sent (`connection`); the manifests are written only when every server answered, so a plan
against the same servers right after has no changes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.adopt.connection import MODELSET_LABEL, ImportRequest, connections
from reconciler.adopt.declare import Adopted, adopt_all, shared_models, without
from reconciler.desired import DesiredModel
from reconciler.manifest.emit import (
    dump_documents,
    instance_document,
    modelset_document,
    write_files,
)
from reconciler.ollama import OllamaClient
from reconciler.probe import ClientFactory

__all__ = ["Adopted", "ImportRequest", "ImportResult", "import_servers"]


@dataclass(frozen=True)
class ImportResult:
    """The files written, the servers each declares, and what the operator should know."""

    files: tuple[tuple[Path, Adopted], ...]
    modelset: tuple[Path, tuple[DesiredModel, ...]] | None = None
    notes: tuple[str, ...] = ()


async def import_servers(
    request: ImportRequest,
    *,
    client_factory: ClientFactory = OllamaClient,
    env: Mapping[str, str] | None = None,
) -> ImportResult:
    """Probe the servers, declare what they have, and write one manifest per server (plus the
    ModelSet of `--modelset`). Nothing is written unless every server answered."""
    environ = os.environ if env is None else env
    adopted = await adopt_all(
        connections(request, environ), client_factory=client_factory, env=environ
    )
    shared: tuple[DesiredModel, ...] = ()
    if request.modelset is not None:
        shared = shared_models(adopted)
        adopted = [without(a, shared) for a in adopted]
    files = {request.out / f"{a.instance.name}.yaml": _manifest(a, request.out) for a in adopted}
    modelset = None
    if request.modelset is not None:
        path = request.out / f"modelset-{request.modelset}.yaml"
        selector = {MODELSET_LABEL: request.modelset}
        document = modelset_document(request.modelset, selector, shared)
        files[path] = dump_documents([document], "Models every imported server shares.")
        modelset = (path, shared)
    write_files(files, force=request.force)
    written = tuple((request.out / f"{a.instance.name}.yaml", a) for a in adopted)
    return ImportResult(written, modelset, _notes(request, adopted))


def _manifest(adopted: Adopted, folder: Path) -> str:
    source = f"Imported by `orc import` from {adopted.instance.display_url}."
    return dump_documents([instance_document(adopted.instance, folder)], source)


def _notes(request: ImportRequest, adopted: Sequence[Adopted]) -> tuple[str, ...]:
    notes = [
        f"{a.instance.name}: left out models whose names orc cannot parse: "
        + ", ".join(a.unparsable)
        for a in adopted
        if a.unparsable
    ]
    settings = adopted[0].instance if adopted else None
    confined = [
        path
        for path in (
            settings.bearer_token.file if settings and settings.bearer_token else None,
            settings.tls.client_cert if settings else None,
            settings.tls.client_key if settings else None,
        )
        if path is not None and not path.is_relative_to(request.out.resolve())
    ]
    notes += [
        f"{path} is outside {request.out}: pass --secrets-dir {path.parent} to orc plan and apply"
        for path in confined
    ]
    return tuple(notes)
