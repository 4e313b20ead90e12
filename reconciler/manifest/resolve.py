"""Resolve schema-valid documents into one `DesiredFleet`: defaults applied, ModelSets merged.

Fleet defaults fill what an instance leaves unset (TLS field by field, headers name by name);
ModelSets named by an instance or selecting it add their models; files are made absolute against
each manifest's folder; durations become seconds. Conflicts between model sources are reported.
Resolution tolerates values already reported as invalid, since the caller discards the fleet
whenever there is any error.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace

from reconciler import desired
from reconciler.manifest.diagnostics import Diagnostic
from reconciler.manifest.document import ParsedDocument, YamlDocument
from reconciler.manifest.durations import parse_duration
from reconciler.manifest.merge import Conflict, ModelSource, SharedModels, merge_models
from reconciler.manifest.modelnames import parse_model_name
from reconciler.manifest.models import (
    TLS,
    FleetDefaults,
    FleetDocument,
    OllamaInstance,
    ReceiverSpec,
    SecretRefSpec,
)
from reconciler.manifest.selection import ModelSetDocument, model_sets, sets_for
from reconciler.manifest.semantics import receiver_name, resolve_file
from reconciler.manifest.syncwindows import resolve_sync_windows
from reconciler.names import ModelName

_DEFAULTS = FleetDefaults.model_construct()  # all defaults: nothing to validate, nothing to build
_NO_TLS = desired.TLSSettings()


def resolve_fleet(parsed: list[ParsedDocument]) -> tuple[desired.DesiredFleet, list[Diagnostic]]:
    """The desired fleet of these documents, and the conflicts found while merging models."""
    fleet = next(((p.doc, p.model) for p in parsed if isinstance(p.model, FleetDocument)), None)
    spec = fleet[1].spec if fleet and fleet[1].spec else None
    defaults = spec.defaults if spec and spec.defaults else _DEFAULTS
    sets = model_sets(parsed)
    instances: list[desired.DesiredInstance] = []
    conflicts: list[Conflict] = []
    seen: set[str] = set()
    shared: SharedModels = {}  # `parsed` keeps the documents alive while it is used
    for item in parsed:
        if isinstance(item.model, OllamaInstance) and item.model.metadata.name not in seen:
            seen.add(item.model.metadata.name)
            resolved, found = _instance(item.doc, item.model, defaults, fleet, sets, shared=shared)
            instances.append(resolved)
            conflicts += found
    safety = spec.safety if spec and spec.safety else None
    result = desired.DesiredFleet(
        instances=tuple(instances),
        parallelism=spec.parallelism if spec else None,
        interval=_seconds(spec.interval if spec else "5m", 300.0),
        safety=desired.Safety(
            allow_empty=safety.allowEmpty if safety else False,
            max_deletions=safety.maxDeletions if safety else 10,
        ),
        name=fleet[1].metadata.name if fleet and fleet[1].metadata else "default",
        prune_delay=_seconds(spec.pruneDelay if spec else "30s", 30.0, allow_zero=True),
        notifications=_receivers(fleet[0], spec.notifications) if fleet and spec else (),
        sync_windows=resolve_sync_windows(fleet[0], spec.syncWindows) if fleet and spec else (),
    )
    return result, _conflict_diagnostics(conflicts)


def _instance(
    doc: YamlDocument,
    instance: OllamaInstance,
    defaults: FleetDefaults,
    fleet: tuple[YamlDocument, FleetDocument] | None,
    sets: Mapping[str, ModelSetDocument],
    *,
    shared: SharedModels,
) -> tuple[desired.DesiredInstance, list[Conflict]]:
    spec, given = instance.spec, instance.spec.model_fields_set
    fleet_dir = fleet[0] if fleet else doc
    sources = [ModelSource("instance", doc, ("spec", "models"), spec.models)]
    for model_set in sets_for(instance, sets):
        label = f"modelset/{model_set.name}"
        sources.append(
            ModelSource(label, model_set.doc, ("spec", "models"), model_set.model.spec.models)
        )
    merged = merge_models(instance.metadata.name, sources, shared)
    timeout = spec.timeout if "timeout" in given or defaults.timeout is None else defaults.timeout
    pull = (
        spec.pullTimeout
        if "pullTimeout" in given or defaults.pullTimeout is None
        else defaults.pullTimeout
    )
    priority = (
        spec.priority if "priority" in given or defaults.priority is None else defaults.priority
    )
    headers = _headers(fleet_dir, defaults.headers)
    headers = _merge_headers(headers, _headers(doc, spec.headers))
    resolved = desired.DesiredInstance(
        name=instance.metadata.name,
        url=spec.url.rstrip("/"),
        enabled=spec.enabled,
        priority=priority,
        labels=dict(instance.metadata.labels),
        timeout=_seconds(timeout, 30.0),
        pull_timeout=_seconds(pull, 7200.0),
        tls=_tls(doc, spec.tls, _tls(fleet_dir, defaults.tls, _NO_TLS)),
        bearer_token=_secret(doc, spec.auth.bearerToken) if spec.auth else None,
        headers=headers,
        endpoints=spec.endpoints.model_dump(by_alias=True, exclude_none=True)
        if spec.endpoints
        else {},
        models=tuple(merged.models),
        prune=spec.prune,
        protect=tuple(spec.protect),
        smoke=tuple(_smoke_tests(instance)),
        location=doc.location(),
        weight=spec.weight,
        max_concurrent=spec.maxConcurrent,
    )
    return resolved, merged.conflicts


def _tls(doc: YamlDocument, tls: TLS | None, base: desired.TLSSettings) -> desired.TLSSettings:
    if tls is None:
        return base
    given = tls.model_fields_set
    files = {"caFile": "ca_file", "clientCert": "client_cert", "clientKey": "client_key"}
    changes: dict[str, object] = {"verify": tls.verify} if "verify" in given else {}
    for field, target in files.items():
        raw = getattr(tls, field)
        if raw is not None:
            changes[target] = resolve_file(doc.directory, raw)
    return replace(base, **changes)  # type: ignore[arg-type]


def _secret(doc: YamlDocument, ref: SecretRefSpec) -> desired.SecretRef:
    path = resolve_file(doc.directory, ref.file) if ref.file is not None else None
    return desired.SecretRef(env=ref.env, file=path, value=ref.value)


def _headers(
    doc: YamlDocument, headers: Mapping[str, str | SecretRefSpec]
) -> dict[str, str | desired.SecretRef]:
    return {
        name: _secret(doc, value) if isinstance(value, SecretRefSpec) else value
        for name, value in headers.items()
    }


def _merge_headers(
    base: dict[str, str | desired.SecretRef], own: dict[str, str | desired.SecretRef]
) -> dict[str, str | desired.SecretRef]:
    """Header names compare case-insensitively; the instance's own value wins."""
    lowered = {name.lower() for name in own}
    merged = {name: value for name, value in base.items() if name.lower() not in lowered}
    merged.update(own)
    return merged


def _receivers(doc: YamlDocument, specs: list[ReceiverSpec]) -> tuple[desired.Receiver, ...]:
    return tuple(
        desired.Receiver(
            name=receiver_name(index, spec),
            url=spec.url if isinstance(spec.url, str) else _secret(doc, spec.url),
            format=spec.format,
            events=tuple(dict.fromkeys(spec.events)),
            match_labels=dict(spec.instances.matchLabels) if spec.instances else {},
            repeat_interval=_seconds(spec.repeatInterval, 3600.0),
            field_path=f"spec.notifications[{index}].url",
        )
        for index, spec in enumerate(specs)
    )


def _smoke_tests(instance: OllamaInstance) -> list[desired.SmokeTest]:
    tests: list[desired.SmokeTest] = []
    for test in instance.spec.smoke:
        model = parse_model_name(test.model)
        if not isinstance(model, ModelName):
            continue
        timeout = _seconds(test.timeout, 0.0) if test.timeout is not None else None
        tests.append(desired.SmokeTest(model, test.prompt, test.expect, timeout))
    return tests


@functools.lru_cache(maxsize=256, typed=True)  # instances mostly share their timeouts
def _seconds(value: float | str, fallback: float, *, allow_zero: bool = False) -> float:
    try:
        return parse_duration(value, allow_zero=allow_zero)
    except ValueError:
        return fallback


def _conflict_diagnostics(conflicts: list[Conflict]) -> list[Diagnostic]:
    """One error per conflicting declaration, naming every instance it affects."""
    groups: dict[tuple[int, object, str], list[Conflict]] = defaultdict(list)
    for conflict in conflicts:
        groups[(id(conflict.doc), conflict.path, conflict.earlier.declared_by)].append(conflict)
    found: list[Diagnostic] = []
    for group in groups.values():
        first = group[0]
        names = ", ".join(sorted({c.instance for c in group}))
        which = "instance" if len(group) == 1 else "instances"
        message = (
            f"conflicting settings for model {first.model.name.display!r} on {which} {names}: "
            f"{first.earlier.declared_by} ({first.earlier.location}) and "
            f"{first.model.declared_by} differ in {', '.join(first.fields)}"
        )
        found.append(first.doc.error(first.path, message))
    return found
