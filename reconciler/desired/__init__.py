"""The resolved desired state: what the manifests ask of each instance, after resolution.

This is what the loader produces from the three kinds (Fleet defaults applied, ModelSets merged,
names parsed) and what `plan()` consumes. Frozen, plain data, no I/O. Secrets stay references:
they are resolved at plan time, by the observer, so a missing variable blocks one instance only.

`WeightsFile`, `SmokeTest`, `SyncWindow` and `Receiver`, which only manifests using those features
have, are defined in `reconciler.desired.features` and imported from here on first use.
"""

from __future__ import annotations

import functools
import json
import json.encoder
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reconciler.lazyexports import lazy_exports
from reconciler.names import ModelName
from reconciler.serverkey import server_key

if TYPE_CHECKING:  # re-exported: `from reconciler.desired import Receiver` is the way to use them
    from reconciler.desired.features import Receiver as Receiver
    from reconciler.desired.features import SmokeTest as SmokeTest
    from reconciler.desired.features import SyncWindow as SyncWindow
    from reconciler.desired.features import WeightsFile as WeightsFile

# Made on first use (reconciler/desired/features.py): only some manifests use them.
_LAZY = {
    "Receiver": "reconciler.desired.features",
    "SmokeTest": "reconciler.desired.features",
    "SyncWindow": "reconciler.desired.features",
    "WeightsFile": "reconciler.desired.features",
}

ENDPOINT_NAMES = (
    "health",
    "version",
    "listModels",
    "show",
    "ps",
    "pull",
    "delete",
    "copy",
    "create",
    "chat",
    "generate",
    "embed",
)
CHAT_ONLY = {"digest": False}
"""Field metadata of settings that only chats use: a saved plan stays valid when they change."""
LATER = {"omit_default": True}
"""Field metadata of settings added later: left out of `digest()` at their default, so the
digest of a fleet that does not use them stays what it was."""


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where something was declared: file, line and column (1-based)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A reference to a secret: an environment variable, a file, or (discouraged) a value.

    `repr` and `describe` never show an inline value.
    """

    env: str | None = None
    file: Path | None = None
    value: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        """A safe description for messages: `env PROD_TOKEN`, `file /x/token`, `inline value`."""
        if self.env is not None:
            return f"env {self.env}"
        if self.file is not None:
            return f"file {self.file}"
        return "inline value"


@dataclass(frozen=True, slots=True)
class TLSSettings:
    """TLS options of one instance; files are absolute (resolved against the manifest's folder)."""

    verify: bool = True
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None


@dataclass(frozen=True, slots=True)
class DesiredModel:
    """One model an instance should have (or not have)."""

    name: ModelName
    state: Literal["present", "absent"] = "present"
    keep_loaded: bool = False
    from_: ModelName | None = None  # set for a custom model built with /api/create
    # set for a custom model built from a local GGUF file
    from_file: WeightsFile | None = field(default=None, metadata=LATER)
    system: str | None = None
    template: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    declared_by: str = "instance"  # "instance" or "modelset/<name>"
    location: SourceLocation | None = None
    # `auto`: plans ask the registry, and apply pulls a newer build
    update: Literal["manual", "auto"] = field(default="manual", metadata=LATER)

    @property
    def is_custom(self) -> bool:
        """Whether this model is built on the server (from another model or a local file)."""
        return self.from_ is not None or self.from_file is not None


@dataclass(frozen=True, slots=True)
class DesiredInstance:
    """One Ollama server as the manifests describe it, defaults applied."""

    name: str
    url: str = field(repr=False)  # may carry user:password@; `display_url` never does
    enabled: bool = True
    priority: int = 5
    labels: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    pull_timeout: float = 7200.0
    tls: TLSSettings = field(default_factory=TLSSettings)
    bearer_token: SecretRef | None = None
    headers: Mapping[str, str | SecretRef] = field(default_factory=dict)
    endpoints: Mapping[str, str] = field(default_factory=dict)
    models: tuple[DesiredModel, ...] = ()
    prune: bool = False
    protect: tuple[str, ...] = ()
    smoke: tuple[SmokeTest, ...] = ()
    location: SourceLocation | None = None
    # How a `Fleet` shares chats; no plan depends on them, so they stay out of `digest()`.
    weight: int = field(default=1, metadata=CHAT_ONLY)
    max_concurrent: int | None = field(default=None, metadata=CHAT_ONLY)

    def model(self, name: ModelName) -> DesiredModel | None:
        """The declared model of that name (compared as Ollama compares names), if any."""
        return next((m for m in self.models if m.name == name), None)

    @property
    def display_url(self) -> str:
        """The URL without any `user:password@` part: the form every report shows."""
        return redact_url(self.url)

    @property
    def server(self) -> str:
        """Which server the URL reaches (`serverkey.server_key`): instances that share one are
        one server, whatever their URLs' spelling. The display URL when the URL is malformed."""
        try:
            return server_key(self.url)
        except ValueError:
            return self.display_url


def redact_url(url: str) -> str:
    """`https://user:pw@host/x` → `https://host/x`; other URLs unchanged."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    return f"{scheme}://{authority}{slash}{path}"


@dataclass(frozen=True, slots=True)
class Safety:
    """Fleet-wide guards against destructive plans."""

    allow_empty: bool = False
    max_deletions: int = 10


SYNC_ACTIONS = ("pull", "create", "load", "delete")
"""The kinds of action a sync window can hold back, in plan order."""


@dataclass(frozen=True, slots=True)
class DesiredFleet:
    """Every instance the manifests declare, with the fleet-wide settings."""

    instances: tuple[DesiredInstance, ...] = ()
    parallelism: int | None = None  # a cap on instances worked on at once; None: every one
    interval: float = 300.0
    safety: Safety = field(default_factory=Safety)
    name: str = "default"
    # how long `orc watch` holds deletions a manifest change causes; no plan depends on it, so
    # it stays out of the digest and a saved plan stays fresh when only this setting changes
    prune_delay: float = field(default=30.0, metadata={"digest": False})
    # who is told about events; no plan depends on it, so it stays out of the digest too
    notifications: tuple[Receiver, ...] = field(default=(), metadata={"digest": False})
    # when actions may be carried out; decided at apply time, so no plan digest depends on them
    sync_windows: tuple[SyncWindow, ...] = field(default=(), metadata={"digest": False})
    _digest: str | None = field(
        default=None, init=False, repr=False, compare=False, metadata={"digest": False}
    )

    def instance(self, name: str) -> DesiredInstance | None:
        """The instance of that name, if declared."""
        return next((i for i in self.instances if i.name == name), None)

    def digest(self) -> str:
        """A stable sha256 of the desired state (secrets by reference, never by value).

        A saved plan records it so that `orc apply plan.json` can refuse a stale plan. Computed
        once per fleet: the fleet is frozen, and `orc watch` plans one fleet round after round.
        """
        if self._digest is None:
            text = _DigestText().text(self)
            object.__setattr__(self, "_digest", _sha256(text))
        assert self._digest is not None
        return self._digest


def instance_digests(fleet: DesiredFleet, instances: Sequence[DesiredInstance]) -> dict[str, str]:
    """The digest of each of these instances as the only instance of `fleet`, by name: what
    `replace(fleet, instances=(instance,)).digest()` gives, the shared parts written once."""
    alone = [replace(fleet, instances=(instance,)) for instance in instances]
    writer = _DigestText()  # `alone` keeps every fleet alive while the writer remembers it
    return {one.instances[0].name: _sha256(writer.text(one)) for one in alone}


_PLAIN = frozenset({str, int, float, bool})
# per dataclass: the fields the digest covers, each with its Field when left out at its default
_DIGEST_FIELDS: dict[type, tuple[tuple[str, Any], ...]] = {}


def _canonical(value: Any) -> Any:
    """A JSON-able form of desired-state values; inline secret values are replaced by a hash.

    `_DigestText` writes the JSON text of this form directly for the common values; this
    function covers the rest (mappings, secret references, paths)."""
    kind = type(value)
    if value is None or kind in _PLAIN:  # most values, then the dataclasses seen before
        return value
    kept = _DIGEST_FIELDS.get(kind)
    if kept is not None:
        return _digest_fields(value, kept)
    if kind is tuple:
        return [_canonical(v) for v in value]
    if kind is dict:
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, SecretRef):
        secret = _sha256(value.value) if value.value else None
        return {"env": value.env, "file": str(value.file) if value.file else None, "h": secret}
    if isinstance(value, ModelName):
        return value.key
    if isinstance(value, SourceLocation):
        return None  # moving a declaration within a file changes nothing
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        fields = value.__dataclass_fields__.items()
        kept = _DIGEST_FIELDS[kind] = tuple(
            (k, f if f.metadata.get("omit_default") else None)
            for k, f in fields
            if f.metadata.get("digest", True)
        )
        return _digest_fields(value, kept)
    return value


def _digest_fields(value: Any, kept: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """The digest's form of a dataclass: its kept fields, less those added later that are still
    at their default (so digests made before they existed stay the same)."""
    out: dict[str, Any] = {}
    for name, omittable in kept:
        field_value = getattr(value, name)
        if omittable is not None and field_value == omittable.default:
            continue
        out[name] = _canonical(field_value)
    return out


_dumps = functools.partial(json.dumps, sort_keys=True, separators=(",", ":"))
_quote = json.encoder.encode_basestring_ascii
# what `_canonical` writes in a form of its own, even when it is a dataclass
_NOT_PLAIN_DATACLASSES: tuple[type, ...] = (
    str,
    int,
    float,
    SecretRef,
    ModelName,
    SourceLocation,
    Path,
    Mapping,
    tuple,
    list,
)
# per dataclass: (quoted name, attribute, the Field when left out at its default), sorted by name
_TextFields = tuple[tuple[str, str, Any], ...]
_TEXT_FIELDS: dict[type, _TextFields] = {}


class _DigestText:
    """The text `_dumps(_canonical(value))` gives, written without building the canonical form.

    JSON text composes: an object is its sorted members' texts joined, so the text of each
    dataclass and tuple is written once per digest and reused wherever the same object appears
    again (a ModelSet's models, and the tuple of them, are shared by every instance it selects).
    """

    def __init__(self) -> None:
        self._known: dict[int, str] = {}  # by id(): every object stays alive during the digest

    def text(self, value: Any) -> str:
        """The canonical JSON text of a desired-state value."""
        kind = type(value)
        if kind is str:
            return _quote(value)
        if value is None:
            return "null"
        fields = _TEXT_FIELDS.get(kind)
        if fields is not None:
            return self._object(value, fields)
        if kind is bool:
            return "true" if value else "false"
        if kind is int:
            return int.__repr__(value)
        if kind is float and math.isfinite(value):
            return float.__repr__(value)
        if kind is tuple or kind is list:
            return self._array(value)
        if kind is dict and all(type(k) is str for k in value):
            items = sorted(value.items())
            return "{" + ",".join([f"{_quote(k)}:{self.text(v)}" for k, v in items]) + "}"
        if kind is ModelName:
            return _quote(value.key)
        if kind is SourceLocation:
            return "null"
        if isinstance(value, _NOT_PLAIN_DATACLASSES) or not hasattr(value, "__dataclass_fields__"):
            return _dumps(_canonical(value))
        return self._object(value, _TEXT_FIELDS.setdefault(kind, _text_fields(value)))

    def _array(self, value: tuple[Any, ...] | list[Any]) -> str:
        """The text of a tuple (written once per object and digest: one ModelSet's models are
        one tuple, shared by the instances it selects) or of a list."""
        if type(value) is list:
            return "[" + ",".join([self.text(v) for v in value]) + "]"
        known = self._known.get(id(value))
        if known is None:
            known = self._known[id(value)] = "[" + ",".join([self.text(v) for v in value]) + "]"
        return known

    def _object(self, value: Any, fields: _TextFields) -> str:
        """The text of a dataclass, written once per object and digest."""
        known = self._known.get(id(value))
        if known is not None:
            return known
        members = []
        for quoted, name, omittable in fields:
            field_value = getattr(value, name)
            if omittable is not None and field_value == omittable.default:
                continue
            members.append(f"{quoted}:{self.text(field_value)}")
        known = self._known[id(value)] = "{" + ",".join(members) + "}"
        return known


def _text_fields(value: Any) -> _TextFields:
    """The fields of a dataclass the digest covers, in JSON's sorted order (see `_canonical`)."""
    kept = [
        (_quote(name), name, f if f.metadata.get("omit_default") else None)
        for name, f in value.__dataclass_fields__.items()
        if f.metadata.get("digest", True)
    ]
    return tuple(sorted(kept, key=lambda item: item[1]))


def _sha256(text: str) -> str:
    """The SHA-256 of `text` (UTF-8), in hex; hashlib is loaded by the first digest, not by
    `orc validate`, which never takes one."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
