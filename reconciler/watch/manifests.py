"""Reading the manifests for the watch loop, keeping the last valid desired state.

A file is read only once it has stopped changing: the name, size, modification time and inode
of every manifest file must hold still for `settle` seconds (the inode catches `git checkout`
and editors that save by renaming a new file over the old one). A file written in two steps is
so not read between them unless the pause is longer than that; the Fleet's pruneDelay covers
the rest (see prunedelay.py). Files that never hold still within `SETTLE_ROUNDS` settle periods
are not read this time. A broken edit (a half-saved file, a typo) is reported with its
diagnostics and otherwise ignored: the desired state it would have produced never exists, so
nothing can be applied from it. The files are read again when a change was seen, on request, or
when their sizes or times changed (a change the file watcher missed); otherwise the fleet read
last time is reused. Reading them again loads them again only when something loading depends on
changed (see fleetcache.py).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler.desired import DesiredFleet
from reconciler.manifest import load_fleet
from reconciler.manifest.diagnostics import Diagnostic, Severity
from reconciler.manifest.loader import find_manifest_files
from reconciler.watch.fleetcache import FleetCache, Loader
from reconciler.watch.logs import EventLog
from reconciler.watch.record import ManifestState, WatchRecord
from reconciler.watch.revision import git_revision
from reconciler.watch.schedule import Backoffs, Due, Trigger

Revision = Callable[[Sequence[Path]], "str | None"]
Signature = tuple[tuple[str, int, int, int], ...]
_RELOAD = frozenset({Trigger.STARTUP, Trigger.CHANGE, Trigger.MANUAL})
SETTLE_ROUNDS = 30  # settle periods to wait for files that keep changing before giving up


@dataclass
class ManifestReader:
    """Reads the manifests under `paths` when needed; see the module docstring."""

    paths: tuple[Path, ...]
    loader: Loader = load_fleet
    revision: Revision = git_revision
    log: EventLog = field(default_factory=EventLog)
    settle: float = 0.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    selector: Mapping[str, str] = field(default_factory=dict)  # this watcher's shard
    _signature: Signature | None = None

    def __post_init__(self) -> None:
        self._cache = FleetCache(self.loader)

    async def read(self, due: Due, record: WatchRecord, backoffs: Backoffs) -> DesiredFleet | None:
        """The desired fleet in force for this reconcile (None: never valid yet)."""
        signature = files_signature(self.paths)
        if not (due.triggers & _RELOAD) and signature == self._signature:
            return record.desired
        settled = await self._settled(signature)
        if settled is None:
            waited = round(self.settle * SETTLE_ROUNDS, 3)
            kept = "the last valid manifests stay in force" if record.desired else "nothing is done"
            self.log.warning(
                "manifests.unsettled",
                message=f"the manifest files kept changing for {waited}s: {kept}",
            )
            return record.desired
        self._signature = settled
        result = self._cache.load(self.paths)
        fleet = result.fleet
        diagnostics = tuple(result.diagnostics)
        if fleet is not None and self.selector:
            fleet = owned(fleet, self.selector)
            if not fleet.instances:  # a shard that owns nothing: an error, never "nothing to do"
                diagnostics += (unowned(self.selector),)
                fleet = None
        previous = record.manifests
        state = ManifestState(fleet is not None, diagnostics, self.revision(self.paths))
        record.manifests = state
        if state.diagnostics != previous.diagnostics or state.valid != previous.valid:
            self._report(
                state, was_invalid=previous.valid is False, kept=record.desired is not None
            )
        if fleet is None:
            return record.desired
        if record.desired is None or record.desired.digest() != fleet.digest():
            backoffs.clear()
            self.log.info(
                "manifests.loaded",
                instances=len(fleet.instances),
                digest=fleet.digest()[:12],
                revision=state.revision,
            )
        record.desired = fleet
        record.keep_declared()
        backoffs.keep({i.name for i in fleet.instances})
        return fleet

    async def _settled(self, signature: Signature) -> Signature | None:
        """The files' signature once it held still for `settle` seconds (None: it never did)."""
        if self.settle <= 0:
            return signature
        for _ in range(SETTLE_ROUNDS):
            await self.sleep(self.settle)
            again = files_signature(self.paths)
            if again == signature:
                return again
            signature = again
        return None

    def _report(self, state: ManifestState, *, was_invalid: bool, kept: bool) -> None:
        for d in state.diagnostics:
            fields = {
                "file": d.file,
                "line": d.line,
                "column": d.column,
                "field": d.field_path or None,
                "message": d.message,
            }
            if d.is_error:
                self.log.error("manifests.invalid", **fields)
            else:
                self.log.warning("manifests.warning", **fields)
        if state.valid and was_invalid:
            self.log.info("manifests.valid", message="the manifests are valid again")
        elif not state.valid:
            kept_text = "the last valid manifests stay in force" if kept else "nothing is done"
            self.log.warning("manifests.ignored", message=f"invalid manifests: {kept_text}")


def owned(fleet: DesiredFleet, selector: Mapping[str, str]) -> DesiredFleet:
    """The part of the fleet a watcher with this `--selector` owns (all labels must match)."""
    kept = tuple(
        i for i in fleet.instances if all(i.labels.get(k) == v for k, v in selector.items())
    )
    return replace(fleet, instances=kept)


def unowned(selector: Mapping[str, str]) -> Diagnostic:
    """The error of a selector that matches no instance of valid manifests."""
    shown = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    return Diagnostic(
        Severity.ERROR,
        f"--selector {shown} matches no instance: this watcher would own nothing",
        hint="label the instances of this shard (metadata.labels), or fix the selector",
    )


def files_signature(paths: Sequence[Path]) -> Signature:
    """Name, size, mtime and inode of every manifest file: changes when any file does."""
    files, _ = find_manifest_files(paths)
    signature = []
    for path in files:
        try:
            info = os.stat(path)
        except OSError:
            continue
        signature.append((str(path), info.st_size, info.st_mtime_ns, info.st_ino))
    return tuple(signature)
