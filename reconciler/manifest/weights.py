"""Local GGUF files that custom models are built from (`from: ./weights/model.gguf`).

A `from` that starts with `./`, `../`, `/` or `~/` names a file, anything else a model. The file
must be a regular file inside the manifests' folders (the folders given to the loader, or a
file's own folder), like secret files, so a manifest cannot make `orc apply` upload whatever the
runner can read. Its sha256 is part of the desired state; it is read streaming, in chunks, never
whole into memory, and computed once per process for a given (path, size, mtime_ns).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from reconciler.desired import DesiredFleet, SourceLocation
from reconciler.manifest.diagnostics import Diagnostic, FieldPath, Severity, Span, make_diagnostic
from reconciler.manifest.document import ParsedDocument, YamlDocument
from reconciler.manifest.models import ModelSet, ModelSpec, OllamaInstance

FILE_PREFIXES = ("./", "../", "/", "~/")
CHUNK = 1024 * 1024

_Key = tuple[str, int, int]
_digests: dict[_Key, str] = {}
_lock = threading.Lock()


def is_file_source(raw: str) -> bool:
    """Whether a `from` value names a local file rather than a model."""
    return raw.startswith(FILE_PREFIXES) or raw in (".", "..", "~")


def file_digest(path: Path) -> tuple[str, int]:
    """`sha256:<hex>` and size of a regular file, cached by (real path, size, mtime_ns).

    Raises OSError when it cannot be read, ValueError when it is not a regular file.
    """
    real = os.path.realpath(path)
    info = os.stat(real)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file")
    key = (real, info.st_size, info.st_mtime_ns)
    with _lock:
        known = _digests.get(key)
    if known is not None:
        return known, info.st_size
    import hashlib  # only a fleet with weights files hashes: not worth loading up front

    digest = hashlib.sha256()
    with open(real, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    value = f"sha256:{digest.hexdigest()}"
    with _lock:
        _digests[key] = value
    return value, info.st_size


def digest_cache_size() -> int:
    """How many digests this process has computed (tests check the file is hashed once)."""
    with _lock:
        return len(_digests)


def check_file_source(doc: YamlDocument, path: FieldPath, raw: str) -> list[Diagnostic]:
    """The file a `from` names must exist and be a regular file (relative to the manifest)."""
    target = resolve_source(doc.directory, raw)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return [doc.error(path, f"weights file not found: {raw} (looked for {target})")]
    except OSError as exc:
        return [doc.error(path, f"cannot read weights file {raw}: {exc.strerror or exc}")]
    if not stat.S_ISREG(info.st_mode):
        return [doc.error(path, f"weights file {raw} is not a regular file")]
    return []


def resolve_source(directory: Path, raw: str) -> Path:
    """The absolute path of a `from` file: `~` expanded, relative to the manifest's folder."""
    path = Path(raw).expanduser()
    return path if path.is_absolute() else directory / path


def confinement_diagnostics(
    parsed: Iterable[ParsedDocument], roots: Iterable[Path]
) -> list[Diagnostic]:
    """An error for each `from` file outside every root (resolved, symlinks followed)."""
    real_roots = tuple(Path(os.path.realpath(root)) for root in roots)
    found: list[Diagnostic] = []
    for item in parsed:
        for path, model in _model_entries(item):
            raw = model.from_
            if raw is None or not is_file_source(raw):
                continue
            real = Path(os.path.realpath(resolve_source(item.doc.directory, raw)))
            if not any(real.is_relative_to(root) for root in real_roots):
                hint = "keep weights files inside the folder of the manifests"
                message = f"weights file {raw} is outside the manifests' folders"
                found.append(item.doc.error((*path, "from"), message, hint=hint))
    return found


def with_digests(fleet: DesiredFleet) -> tuple[DesiredFleet, list[Diagnostic]]:
    """The fleet with the digest of every weights file filled in (each file hashed once).

    Runs only on valid manifests, so a file outside the manifests' folders is never read. A
    file that vanished or changed kind since it was checked is an error at its model.
    """
    problems: list[Diagnostic] = []
    instances = []
    for inst in fleet.instances:
        if all(m.from_file is None or m.from_file.digest for m in inst.models):
            instances.append(inst)  # nothing to fill in: the instance as it is
            continue
        models = []
        for declared in inst.models:
            weights = declared.from_file
            if weights is None or weights.digest:
                models.append(declared)
                continue
            try:
                digest, size = file_digest(weights.path)
            except (OSError, ValueError) as exc:
                problems.append(_unreadable(declared.location, weights.source, exc))
                continue
            filled = replace(weights, digest=digest, size=size)
            models.append(replace(declared, from_file=filled))
        instances.append(replace(inst, models=tuple(models)))
    return replace(fleet, instances=tuple(instances)), problems


def _unreadable(where: SourceLocation | None, raw: str, exc: Exception) -> Diagnostic:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    span = Span(where.line, where.column) if where else Span()
    message = f"cannot read weights file {raw}: {reason}"
    return make_diagnostic(
        Severity.ERROR, message, file=where.file if where else "", span=span, path=()
    )


def _model_entries(item: ParsedDocument) -> Iterable[tuple[FieldPath, ModelSpec]]:
    model = item.model
    if isinstance(model, OllamaInstance | ModelSet):
        for index, spec in enumerate(model.spec.models):
            yield ("spec", "models", index), spec
