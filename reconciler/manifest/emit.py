"""Writing manifests: the desired vocabulary back into YAML, in the project's own layout.

`orc import` declares what it found on servers with these. Keys come in the order the README
shows them, multi-line text (templates, system prompts) as literal blocks, every file starts with
the schema modeline so editors check it. Secrets are written as references only: a `SecretRef`
with an inline value is refused here, never written. Files are written atomically, and an
existing file is replaced only when asked.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from reconciler.desired import ENDPOINT_NAMES, DesiredInstance, DesiredModel, SecretRef
from reconciler.errors import UsageError
from reconciler.manifest.models import API_VERSION
from reconciler.manifest.schemagen import SCHEMA_ID

MODELINE = f"# yaml-language-server: $schema={SCHEMA_ID}"
_DEFAULT_TIMEOUT = DesiredInstance.__dataclass_fields__["timeout"].default


class _Dumper(yaml.SafeDumper):
    """Block style, insertion order, and literal blocks for multi-line text."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value.strip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump_documents(documents: Sequence[Mapping[str, Any]], comment: str = "") -> str:
    """YAML text of the documents, after the modeline and an optional comment line."""
    header = [MODELINE] + ([f"# {comment}"] if comment else [])
    bodies = [
        yaml.dump(dict(doc), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
        for doc in documents
    ]
    return "\n".join(header) + "\n" + "---\n".join(bodies)


def instance_document(instance: DesiredInstance, folder: Path) -> dict[str, Any]:
    """The `OllamaInstance` document of an instance; files relative to `folder`."""
    metadata: dict[str, Any] = {"name": instance.name}
    if instance.labels:
        metadata["labels"] = dict(sorted(instance.labels.items()))
    spec: dict[str, Any] = {"url": instance.url}
    if instance.timeout != _DEFAULT_TIMEOUT:
        spec["timeout"] = instance.timeout
    tls = _tls(instance, folder)
    if tls:
        spec["tls"] = tls
    if instance.bearer_token is not None:
        spec["auth"] = {"bearerToken": _secret(instance.bearer_token, folder, "bearerToken")}
    if instance.headers:
        spec["headers"] = {
            key: _secret(value, folder, key) if isinstance(value, SecretRef) else value
            for key, value in sorted(instance.headers.items())
        }
    if instance.endpoints:
        order = {name: i for i, name in enumerate(ENDPOINT_NAMES)}
        spec["endpoints"] = dict(sorted(instance.endpoints.items(), key=lambda e: order[e[0]]))
    spec["models"] = [model_entry(m) for m in instance.models]
    return {"apiVersion": API_VERSION, "kind": "OllamaInstance", "metadata": metadata, "spec": spec}


def modelset_document(
    name: str, selector: Mapping[str, str], models: Sequence[DesiredModel]
) -> dict[str, Any]:
    """A `ModelSet` document for the instances whose labels match `selector`."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ModelSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": dict(selector)},
            "models": [model_entry(m) for m in models],
        },
    }


def model_entry(model: DesiredModel) -> dict[str, Any]:
    """One entry of a `models` list: only what differs from the defaults."""
    entry: dict[str, Any] = {"name": model.name.display}
    if model.state != "present":
        entry["state"] = model.state
    if model.keep_loaded:
        entry["keepLoaded"] = True
    if model.from_ is not None:
        entry["from"] = model.from_.display
    if model.system is not None:
        entry["system"] = model.system
    if model.template is not None:
        entry["template"] = model.template
    if model.parameters:
        entry["parameters"] = {k: _plain(v) for k, v in sorted(model.parameters.items())}
    return entry


def write_files(files: Mapping[Path, str], *, force: bool) -> None:
    """Write every file atomically; without `force`, refuse before writing any if one exists."""
    existing = sorted(path for path in files if path.exists())
    if existing and not force:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise UsageError(
            f"{existing[0]} already exists{more}: nothing was written",
            hint="add --force to replace it, or choose another folder with --out",
        )
    for path, text in files.items():
        _write_atomically(path, text)


def _write_atomically(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _tls(instance: DesiredInstance, folder: Path) -> dict[str, Any]:
    tls = instance.tls
    found: dict[str, Any] = {} if tls.verify else {"verify": False}
    files = (
        ("caFile", tls.ca_file),
        ("clientCert", tls.client_cert),
        ("clientKey", tls.client_key),
    )
    found.update({key: _relative(path, folder) for key, path in files if path is not None})
    return found


def _secret(ref: SecretRef, folder: Path, field: str) -> dict[str, str]:
    if ref.env is not None:
        return {"env": ref.env}
    if ref.file is not None:
        return {"file": _relative(ref.file, folder)}
    raise UsageError(f"{field}: a secret value is never written into a manifest")


def _relative(path: Path, folder: Path) -> str:
    """`path` relative to `folder` (with `..` where needed), as manifests resolve files."""
    try:
        return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return path.resolve().as_posix()


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, tuple | list) else value
