"""Checks of one schema-valid document that a JSON Schema cannot express.

URLs, durations, TLS files on disk, secret references, header names, model names in Ollama's
grammar, regular expressions, the same model listed twice. Checks across documents (unique names,
ModelSet references) live in `crossrefs`, conflicts between sources in `resolve`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from reconciler.manifest.diagnostics import Diagnostic, FieldPath
from reconciler.manifest.document import ParsedDocument, YamlDocument, display_path
from reconciler.manifest.durations import parse_duration
from reconciler.manifest.modelnames import parse_model_name
from reconciler.manifest.models import (
    TLS,
    FleetDocument,
    InstanceSpec,
    ModelSet,
    ModelSpec,
    ReceiverSpec,
    SecretRefSpec,
)
from reconciler.manifest.schematext import show
from reconciler.manifest.syncwindows import check_sync_windows
from reconciler.manifest.weights import check_file_source, is_file_source
from reconciler.names import ModelName

_CREDENTIAL_WORDS = (
    "auth",
    "apikey",
    "accesskey",
    "token",
    "secret",
    "passw",
    "credential",
    "session",
    "cookie",
)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SECRET_HINT = "manifests live in git: use {env: NAME} or {file: PATH}"
_URL_CREDENTIALS_HINT = (
    "remove them from the url; use spec.auth.bearerToken, or spec.headers.Authorization with a "
    "SecretRef such as {env: NAME}"
)


def document_diagnostics(parsed: ParsedDocument) -> list[Diagnostic]:
    """Every semantic problem of one document."""
    doc, model = parsed.doc, parsed.model
    if isinstance(model, ModelSet):
        return check_models(doc, ("spec", "models"), model.spec.models)
    if isinstance(model, FleetDocument):
        return _fleet(doc, model)
    return _instance(doc, model.spec)


def _instance(doc: YamlDocument, spec: InstanceSpec) -> list[Diagnostic]:
    found = check_url(doc, ("spec", "url"), spec.url)
    found += _duration(doc, ("spec", "timeout"), spec.timeout)
    found += _duration(doc, ("spec", "pullTimeout"), spec.pullTimeout)
    found += check_tls(doc, ("spec", "tls"), spec.tls)
    found += check_unverified_tls(doc, ("spec", "tls"), spec.tls, spec.url)
    if spec.auth is not None:
        found += _secret(doc, ("spec", "auth", "bearerToken"), spec.auth.bearerToken)
    found += _headers(doc, ("spec", "headers"), spec.headers)
    found += check_models(doc, ("spec", "models"), spec.models)
    for index, test in enumerate(spec.smoke):
        path: FieldPath = ("spec", "smoke", index)
        found += _model_name(doc, (*path, "model"), test.model)
        if test.timeout is not None:
            found += _duration(doc, (*path, "timeout"), test.timeout)
        if test.expect is not None:
            found += _regex(doc, (*path, "expect"), test.expect)
    return found


def _fleet(doc: YamlDocument, fleet: FleetDocument) -> list[Diagnostic]:
    if fleet.spec is None:
        return []
    found = _duration(doc, ("spec", "interval"), fleet.spec.interval)
    found += _duration(doc, ("spec", "pruneDelay"), fleet.spec.pruneDelay, allow_zero=True)
    defaults = fleet.spec.defaults
    if defaults is not None:
        path: FieldPath = ("spec", "defaults")
        if defaults.timeout is not None:
            found += _duration(doc, (*path, "timeout"), defaults.timeout)
        if defaults.pullTimeout is not None:
            found += _duration(doc, (*path, "pullTimeout"), defaults.pullTimeout)
        found += check_tls(doc, (*path, "tls"), defaults.tls)
        found += check_unverified_tls(doc, (*path, "tls"), defaults.tls)
        found += _headers(doc, (*path, "headers"), defaults.headers)
    found += _receivers(doc, fleet.spec.notifications)
    found += check_sync_windows(doc, fleet.spec.syncWindows)
    return found


def receiver_name(index: int, spec: ReceiverSpec) -> str:
    """A receiver's name: its own, or `receiver-N` by position (N from 1)."""
    return spec.name or f"receiver-{index + 1}"


def _receivers(doc: YamlDocument, receivers: Sequence[ReceiverSpec]) -> list[Diagnostic]:
    """Webhook URLs (never echoed: they are credentials), cool-downs, unique names."""
    found: list[Diagnostic] = []
    first: dict[str, int] = {}
    for index, spec in enumerate(receivers):
        path: FieldPath = ("spec", "notifications", index)
        if isinstance(spec.url, str):
            found += _webhook_url(doc, (*path, "url"), spec.url, spec.format)
        else:
            found += _secret(doc, (*path, "url"), spec.url)
        found += _duration(doc, (*path, "repeatInterval"), spec.repeatInterval)
        name = receiver_name(index, spec)
        if name in first:
            message = f"receiver name {name!r} is used twice (first by receiver {first[name] + 1})"
            found.append(doc.error((*path, "name") if spec.name else path, message))
        else:
            first[name] = index
    return found


def _webhook_url(doc: YamlDocument, path: FieldPath, url: str, fmt: str) -> list[Diagnostic]:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for an invalid port
    except ValueError:
        return [doc.error(path, "the webhook url is not a valid url")]
    if any(char.isspace() for char in url) or parts.scheme.lower() not in ("http", "https"):
        return [doc.error(path, "the webhook url must be an http or https url without spaces")]
    if not parts.hostname:
        return [doc.error(path, "the webhook url has no host")]
    if fmt in ("slack", "teams") or parts.username or parts.password:
        message = "this webhook url is a credential, and manifests live in git"
        return [doc.warning(path, message, hint="use {env: NAME} or {file: PATH}")]
    return []


def check_url(doc: YamlDocument, path: FieldPath, url: str) -> list[Diagnostic]:
    """An instance URL: http or https, a host, a valid port, no query or fragment."""
    shown = show(url) if "@" not in url else "the url"
    if any(char.isspace() for char in url):
        return [doc.error(path, "the url must not contain spaces")]
    if "://" not in url:
        hint = f"write http://{url.lstrip('/')}" if "@" not in url else "write http://..."
        return [doc.error(path, f"{shown} has no scheme", hint=hint)]
    try:
        parts = urlsplit(url)
    except ValueError:
        return [doc.error(path, f"{shown} is not a valid url")]
    if parts.scheme.lower() not in ("http", "https"):
        return [doc.error(path, f"the url scheme must be http or https, not {parts.scheme!r}")]
    try:
        port = parts.port
    except ValueError:
        return [doc.error(path, f"{shown} has an invalid port")]
    if not parts.hostname:
        return [doc.error(path, f"{shown} has no host")]
    if port == 0:
        return [doc.error(path, f"{shown} has an invalid port")]
    if parts.query or parts.fragment:
        return [doc.error(path, "the url must not have a query (?...) or fragment (#...)")]
    if parts.username is not None or parts.password is not None:
        message = "the url carries credentials (user:password@), which end up in git and output"
        return [doc.error(path, message, hint=_URL_CREDENTIALS_HINT)]
    return []


def check_tls(doc: YamlDocument, path: FieldPath, tls: TLS | None) -> list[Diagnostic]:
    """TLS files must exist (relative to the manifest); a client cert needs its key."""
    if tls is None:
        return []
    found: list[Diagnostic] = []
    for field in ("caFile", "clientCert", "clientKey"):
        raw = getattr(tls, field)
        target = resolve_file(doc.directory, raw) if raw is not None else None
        if raw is not None and target is not None and not target.is_file():
            shown = display_path(target.absolute())
            where = f" (looked for {shown})" if shown != raw else ""
            found.append(doc.error((*path, field), f"TLS file not found: {raw}{where}"))
    if (tls.clientCert is None) != (tls.clientKey is None):
        present, missing = (
            ("clientCert", "clientKey") if tls.clientKey is None else ("clientKey", "clientCert")
        )
        found.append(doc.error((*path, present), f"{present} needs {missing} as well"))
    return found


def check_unverified_tls(
    doc: YamlDocument, path: FieldPath, tls: TLS | None, url: str | None = None
) -> list[Diagnostic]:
    """`verify: false` is a warning (for an instance, only when its url is https)."""
    if tls is None or tls.verify is not False or (url and not url.lower().startswith("https:")):
        return []
    message = (
        "false turns certificate checks off: anyone on the network path can pose as the "
        "server and read its credentials"
    )
    hint = "set tls.caFile to the CA that signed the server's certificate instead"
    return [doc.warning((*path, "verify"), message, hint=hint)]


def resolve_file(directory: Path, raw: str) -> Path:
    """A file named in a manifest: `~` expanded, relative paths taken from the manifest's folder."""
    path = Path(raw).expanduser()
    return path if path.is_absolute() else directory / path


def check_models(
    doc: YamlDocument, path: FieldPath, models: Sequence[ModelSpec]
) -> list[Diagnostic]:
    """Each model's names and settings, and no model listed twice in one list."""
    found: list[Diagnostic] = []
    first: dict[ModelName, int] = {}
    for index, model in enumerate(models):
        entry: FieldPath = (*path, index)
        name_problems = _model_name(doc, (*entry, "name"), model.name)
        found += name_problems
        found += _model_settings(doc, entry, model)
        name = parse_model_name(model.name)
        if name_problems or not isinstance(name, ModelName):
            continue
        if name in first:
            line = doc.span((*path, first[name])).line
            message = f"model {name.display!r} is listed twice (first at line {line})"
            found.append(doc.error((*entry, "name"), message))
        else:
            first[name] = index
    return found


def _model_settings(doc: YamlDocument, entry: FieldPath, model: ModelSpec) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if model.from_ is not None and is_file_source(model.from_):
        found += check_file_source(doc, (*entry, "from"), model.from_)
    elif model.from_ is not None:
        if model.from_.lower().endswith(".gguf"):
            hint = f"write ./{model.from_} for a file next to the manifest"
            message = f"{show(model.from_)} looks like a file but is read as a model name"
            return [doc.error((*entry, "from"), message, hint=hint)]
        found += _model_name(doc, (*entry, "from"), model.from_, what="base model name")
        if not found and parse_model_name(model.from_) == parse_model_name(model.name):
            found.append(doc.error((*entry, "from"), "a model cannot be built from itself"))
    else:
        custom = [f for f in ("system", "template") if getattr(model, f) is not None]
        custom += ["parameters"] if model.parameters else []
        if custom:
            hint = "add 'from: <base model>' to build a custom model"
            verb = "applies" if len(custom) == 1 else "apply"
            message = f"{', '.join(custom)} only {verb} to a custom model built with 'from'"
            found.append(doc.error((*entry, custom[0]), message, key=True, hint=hint))
    if model.update == "auto" and (model.from_ is not None or model.state == "absent"):
        what = "a custom model" if model.from_ is not None else "an absent model"
        message = f"update: auto applies to pulled models, not to {what}"
        found.append(doc.error((*entry, "update"), message))
    if model.state == "absent" and model.keepLoaded:
        found.append(doc.error((*entry, "keepLoaded"), "an absent model cannot be kept loaded"))
    return found


def _model_name(
    doc: YamlDocument, path: FieldPath, name: str, *, what: str = "model name"
) -> list[Diagnostic]:
    parsed = parse_model_name(name)
    if isinstance(parsed, str):
        return [doc.error(path, f"invalid {what} {show(name)}: {parsed}")]
    return []


def _duration(
    doc: YamlDocument, path: FieldPath, value: float | str, *, allow_zero: bool = False
) -> list[Diagnostic]:
    try:
        parse_duration(value, allow_zero=allow_zero)
    except ValueError as exc:
        return [doc.error(path, f"invalid {path[-1]}: {exc}")]
    return []


def _secret(doc: YamlDocument, path: FieldPath, ref: SecretRefSpec) -> list[Diagnostic]:
    if ref.value is None:
        return []
    message = "inline secret value in a manifest"
    return [doc.warning((*path, "value"), message, key=True, hint=_SECRET_HINT)]


def _headers(
    doc: YamlDocument, path: FieldPath, headers: Mapping[str, str | SecretRefSpec]
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            found.append(doc.error((*path, name), f"invalid header name {show(name)}", key=True))
        if isinstance(value, SecretRefSpec):
            found += _secret(doc, (*path, name), value)
        elif "\r" in value or "\n" in value:
            found.append(doc.error((*path, name), "a header value must not contain line breaks"))
        elif carries_credentials(name):
            found.append(_plain_credential(doc, (*path, name), name))
    return found


def carries_credentials(header: str) -> bool:
    """Whether a header's name says it carries credentials, so its value must be a SecretRef.

    `Authorization`, `Proxy-Authorization`, `Cookie`, and any name containing (case-insensitively,
    ignoring `-` and `_`) one of `auth`, `apikey`, `accesskey`, `token`, `secret`, `passw`,
    `credential`, `session` or `cookie`: `X-Api-Key`, `X-Auth-Token`, `X-Access-Key`,
    `X-Session-Id`.
    """
    squeezed = header.lower().replace("-", "").replace("_", "")
    return any(word in squeezed for word in _CREDENTIAL_WORDS)


def _plain_credential(doc: YamlDocument, path: FieldPath, name: str) -> Diagnostic:
    where = (
        "spec.auth.bearerToken for a bearer token, or " if path[:2] == ("spec", "headers") else ""
    )
    hint = f"use {where}a SecretRef: {name}: {{env: NAME}} or {{file: PATH}}"
    message = f"header {name} carries credentials, but its value is written in the manifest"
    return doc.error(path, message, hint=hint)


def _regex(doc: YamlDocument, path: FieldPath, pattern: str) -> list[Diagnostic]:
    try:
        re.compile(pattern)
    except re.error as exc:
        return [doc.error(path, f"invalid regular expression: {exc}")]
    return []
