"""Parts of the desired state that only manifests using a feature have: local weights files,
smoke tests, sync windows and webhook receivers.

They belong to the vocabulary of `reconciler.desired` and are imported from there; they live here
so that they are made on first use. Making a frozen dataclass costs about a millisecond at every
start (its methods are generated and compiled), and `orc validate` or `orc plan` of manifests
that use none of these features needs none of them (see docs/architecture.md, Performance).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from reconciler.desired import SYNC_ACTIONS

if TYPE_CHECKING:
    from reconciler.desired import SecretRef, SourceLocation
    from reconciler.names import ModelName


@dataclass(frozen=True, slots=True)
class WeightsFile:
    """A local GGUF file a custom model is built from: where it is, as written, and its digest.

    `digest` is `sha256:<hex>` of the file's bytes, computed when the manifests were loaded, so a
    changed file is a changed desired state (and a saved plan made before the change is stale).
    """

    path: Path  # absolute
    source: str  # as the manifest wrote it, e.g. `./weights/model.gguf`
    digest: str
    size: int = 0

    @property
    def hex(self) -> str:
        """The bare hex digest, as Ollama's blob names and `/api/show` spell it."""
        return self.digest.removeprefix("sha256:")


@dataclass(frozen=True, slots=True)
class SmokeTest:
    """A chat test run by `orc chat-test --all`."""

    model: ModelName
    prompt: str
    expect: str | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class SyncWindow:
    """A Fleet's `spec.syncWindows` entry: when the actions it covers may (allow) or may not
    (deny) be carried out. Opens at each time `schedule` (5-field cron, in `time_zone`) names
    and stays open `duration` seconds; `match_labels` selects instances (empty: every one)."""

    name: str
    kind: Literal["allow", "deny"]
    schedule: str
    duration: float
    time_zone: str = "UTC"
    actions: tuple[str, ...] = SYNC_ACTIONS
    match_labels: Mapping[str, str] = field(default_factory=dict)
    location: SourceLocation | None = None

    def covers(self, labels: Mapping[str, str], action: str) -> bool:
        """Whether this window rules over `action` on an instance with these labels."""
        if action not in self.actions:
            return False
        return all(labels.get(key) == value for key, value in self.match_labels.items())


@dataclass(frozen=True, slots=True)
class Receiver:
    """A webhook told about events (see reconciler.notify); its URL may be a secret."""

    name: str
    url: str | SecretRef = field(repr=False)  # a plain URL or a reference, resolved when sending
    format: Literal["generic", "slack", "teams", "alertmanager"] = "generic"
    events: tuple[str, ...] = ("drift", "failure", "recovery", "applied", "refused", "invalid")
    match_labels: Mapping[str, str] = field(default_factory=dict)  # empty: every instance
    repeat_interval: float = 3600.0
    field_path: str = ""  # where it is declared, for errors: spec.notifications[0].url

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an instance with these labels is one this receiver hears about."""
        return all(labels.get(k) == v for k, v in self.match_labels.items())
