"""How `orc import` reaches each server: names, URLs, tokens, headers, TLS, all checked first.

Everything is checked before a request is sent, and secrets stay references: a token from an
environment variable or a file is written as `{env: ...}` or `{file: ...}`, a header whose name
says it carries a credential is refused unless it comes from a variable (see docs/security.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from reconciler.desired import ENDPOINT_NAMES, DesiredInstance, SecretRef, TLSSettings, redact_url
from reconciler.errors import UsageError
from reconciler.manifest.models import DNS_LABEL_PATTERN
from reconciler.manifest.semantics import carries_credentials

MODELSET_LABEL = "modelset"
"""The label that selects the instances of the ModelSet `--modelset NAME` writes."""

_NOT_IN_LABEL = re.compile(r"[^a-z0-9-]+")


def check_url(url: str) -> None:
    """Refuse a URL `orc` cannot import: not http(s), no host, or credentials inside it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"cannot import {redact_url(url)!r}: not an http or https URL with a host",
            hint="e.g. http://gpu-1.internal:11434",
        )
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"cannot import {redact_url(url)}: the URL carries credentials",
            hint="remove them and pass a token with --token-env or --token-file",
        )


def is_credential_header(name: str) -> bool:
    """Whether a header's name says it carries a credential (so only a reference may hold it):
    the rule `orc validate` applies (`manifest.semantics.carries_credentials`)."""
    return carries_credentials(name)


def name_from_url(url: str) -> str:
    """A DNS-label instance name from the URL's host: its first label, or a whole IP address.

    `https://gpu-1.example.com` → `gpu-1`, `http://10.0.0.5:11434` → `10-0-0-5`,
    `http://[::1]:11434` → `ollama-1`.
    """
    host = (urlsplit(url).hostname or "").lower()
    if not _is_ip(host):
        host = host.split(".", 1)[0]
    label = _NOT_IN_LABEL.sub("-", host).strip("-")
    if ":" in host or not label:  # an IPv6 address reads better with a word in front
        label = f"ollama-{label}".rstrip("-")
    return label[:63].rstrip("-")


def instance_names(urls: Sequence[str], name: str | None) -> list[str]:
    """The instance name of each URL: `name` for one URL, `name-1`, `name-2`... for several;
    without a name, one derived from each host, with `-2`, `-3`... where two would collide."""
    if name is not None:
        return [name] if len(urls) == 1 else [f"{name}-{i}" for i in range(1, len(urls) + 1)]
    chosen: list[str] = []
    for url in urls:
        base, candidate, n = name_from_url(url), name_from_url(url), 1
        while candidate in chosen:
            n += 1
            candidate = f"{base[: 63 - len(str(n)) - 1]}-{n}"
        chosen.append(candidate)
    return chosen


def _is_ip(host: str) -> bool:
    return ":" in host or all(part.isdigit() for part in host.split("."))


@dataclass(frozen=True)
class ImportRequest:
    """What `orc import` was asked: servers, how to reach them, where to write."""

    urls: tuple[str, ...]
    out: Path
    name: str | None = None
    token_env: str | None = None
    token_file: Path | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    header_env: Mapping[str, str] = field(default_factory=dict)
    endpoints: Mapping[str, str] = field(default_factory=dict)
    tls: TLSSettings = field(default_factory=TLSSettings)
    labels: Mapping[str, str] = field(default_factory=dict)
    modelset: str | None = None
    force: bool = False


def connections(request: ImportRequest, env: Mapping[str, str]) -> list[DesiredInstance]:
    """The connection settings of each URL, checked before anything is sent."""
    for url in request.urls:
        check_url(url)
    chosen = instance_names(request.urls, request.name)
    bad = next((n for n in chosen if not re.fullmatch(DNS_LABEL_PATTERN, n)), None)
    if bad is not None:
        raise UsageError(
            f"--name: {bad!r} is not a DNS label",
            hint="lowercase letters, digits and '-', at most 63, e.g. --name gpu-1",
        )
    labels = dict(request.labels)
    if request.modelset is not None:
        labels = {**labels, MODELSET_LABEL: _modelset_label(request.modelset, labels)}
    headers: dict[str, str | SecretRef] = {**_plain_headers(request.headers)}
    for key, variable in request.header_env.items():
        headers[key] = _env_ref(variable, env, f"--header-env {key}")
    settings = DesiredInstance(
        name="",
        url="",
        labels=labels,
        tls=_tls(request.tls),
        bearer_token=_token(request, env),
        headers=headers,
        endpoints=_endpoints(request.endpoints),
    )
    return [replace(settings, name=n, url=u) for n, u in zip(chosen, request.urls, strict=True)]


def _modelset_label(name: str, labels: Mapping[str, str]) -> str:
    if not re.fullmatch(DNS_LABEL_PATTERN, name):
        raise UsageError(f"--modelset: {name!r} is not a DNS label", hint="e.g. --modelset gpu")
    if labels.get(MODELSET_LABEL, name) != name:
        raise UsageError(
            f"--labels {MODELSET_LABEL}={labels[MODELSET_LABEL]} conflicts with --modelset {name}",
            hint=f"--modelset selects its instances with the label {MODELSET_LABEL}={name}",
        )
    return name


def _plain_headers(headers: Mapping[str, str]) -> dict[str, str]:
    for key in headers:
        if is_credential_header(key):
            raise UsageError(
                f"--header {key}: a credential is never written into a manifest",
                hint=f"put it in an environment variable and pass --header-env {key}=VARIABLE",
            )
    return dict(headers)


def _env_ref(variable: str, env: Mapping[str, str], flag: str) -> SecretRef:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
        raise UsageError(f"{flag}: {variable!r} is not an environment variable name")
    if not env.get(variable):
        raise UsageError(
            f"{flag}: the environment variable {variable} is not set",
            hint="export it first: the server is probed with its value",
        )
    return SecretRef(env=variable)


def _token(request: ImportRequest, env: Mapping[str, str]) -> SecretRef | None:
    if request.token_env is not None and request.token_file is not None:
        raise UsageError("--token-env and --token-file exclude each other")
    if request.token_env is not None:
        return _env_ref(request.token_env, env, "--token-env")
    if request.token_file is not None:
        if not request.token_file.is_file():
            raise UsageError(f"--token-file {request.token_file}: no such file")
        return SecretRef(file=request.token_file.resolve())
    return None


def _tls(tls: TLSSettings) -> TLSSettings:
    files = {"--ca-file": tls.ca_file, "--client-cert": tls.client_cert}
    files["--client-key"] = tls.client_key
    for flag, path in files.items():
        if path is not None and not path.is_file():
            raise UsageError(f"{flag} {path}: no such file")
    if (tls.client_cert is None) != (tls.client_key is None):
        raise UsageError("--client-cert and --client-key go together")

    def absolute(path: Path | None) -> Path | None:
        return path.resolve() if path is not None else None

    return TLSSettings(
        tls.verify, absolute(tls.ca_file), absolute(tls.client_cert), absolute(tls.client_key)
    )


def _endpoints(endpoints: Mapping[str, str]) -> dict[str, str]:
    for key, path in endpoints.items():
        if key not in ENDPOINT_NAMES:
            raise UsageError(
                f"--endpoint {key}: unknown endpoint", hint=f"one of {', '.join(ENDPOINT_NAMES)}"
            )
        if not path.startswith("/"):
            raise UsageError(f"--endpoint {key}={path}: the path must start with '/'")
    return dict(endpoints)
