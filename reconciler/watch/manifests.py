"""Reading the manifests for the watch loop, keeping the last valid desired state.

A broken edit (a half-saved file, a typo) is reported with its diagnostics and otherwise ignored:
the desired state it would have produced never exists, so nothing can be applied from it. The
files are read again when a change was seen, on request, or when their sizes or times changed
(a change the file watcher missed); otherwise the fleet read last time is reused.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.desired import DesiredFleet
from reconciler.manifest import LoadResult, load_fleet
from reconciler.manifest.loader import find_manifest_files
from reconciler.watch.logs import EventLog
from reconciler.watch.record import ManifestState, WatchRecord
from reconciler.watch.revision import git_revision
from reconciler.watch.schedule import Backoffs, Due, Trigger

Loader = Callable[[Sequence[Path]], LoadResult]
Revision = Callable[[Sequence[Path]], "str | None"]
Signature = tuple[tuple[str, int, int, int], ...]
_RELOAD = frozenset({Trigger.STARTUP, Trigger.CHANGE, Trigger.MANUAL})


@dataclass
class ManifestReader:
    """Reads the manifests under `paths` when needed; see the module docstring."""

    paths: tuple[Path, ...]
    loader: Loader = load_fleet
    revision: Revision = git_revision
    log: EventLog = field(default_factory=EventLog)
    _signature: Signature | None = None

    def read(self, due: Due, record: WatchRecord, backoffs: Backoffs) -> DesiredFleet | None:
        """The desired fleet in force for this reconcile (None: never valid yet)."""
        signature = files_signature(self.paths)
        if not (due.triggers & _RELOAD) and signature == self._signature:
            return record.desired
        self._signature = signature
        result = self.loader(self.paths)
        previous = record.manifests
        state = ManifestState(result.ok, tuple(result.diagnostics), self.revision(self.paths))
        record.manifests = state
        if state.diagnostics != previous.diagnostics or state.valid != previous.valid:
            self._report(
                state, was_invalid=previous.valid is False, kept=record.desired is not None
            )
        if result.fleet is None:
            return record.desired
        if record.desired is None or record.desired.digest() != result.fleet.digest():
            backoffs.clear()
            self.log.info(
                "manifests.loaded",
                instances=len(result.fleet.instances),
                digest=result.fleet.digest()[:12],
                revision=state.revision,
            )
        record.desired = result.fleet
        record.keep_declared()
        backoffs.keep({i.name for i in result.fleet.instances})
        return result.fleet

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
