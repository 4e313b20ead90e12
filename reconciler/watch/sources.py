"""Where manifest changes come from: `watchfiles`, filtered to the files the loader would read.

A change source is any async iterator of sets of changed paths; the loop only consumes it, so tests
replace this one with a scripted list (docs/architecture.md, Watch). Files named on the command line
are watched through their folder, so that editors which save by renaming are still seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import watchfiles

from reconciler.manifest.loader import MANIFEST_SUFFIXES

ChangeSource = AsyncIterator[set[str]]
STEP_MS = 50  # watchfiles yields once the files were quiet this long


class ManifestFilter:
    """Accepts the paths `load_fleet` would read: *.yaml/*.yml under the folders, the files."""

    def __init__(self, paths: Sequence[Path]) -> None:
        resolved = [p.resolve() for p in paths]
        self.files = {p for p in resolved if not p.is_dir()}
        self.folders = [p for p in resolved if p.is_dir()]

    def __call__(self, change: object, path: str) -> bool:
        candidate = Path(path)
        if candidate in self.files:
            return True
        if not candidate.name.endswith(MANIFEST_SUFFIXES):
            return False
        for folder in self.folders:
            if candidate.is_relative_to(folder):
                hidden = any(part.startswith(".") for part in candidate.relative_to(folder).parts)
                return not hidden
        return False

    def roots(self) -> list[Path]:
        """What to hand to the OS watcher: the folders, and the folder of each file."""
        roots = dict.fromkeys([*self.folders, *(f.parent for f in self.files)])
        return list(roots)


async def manifest_changes(paths: Sequence[Path], stop: asyncio.Event) -> ChangeSource:
    """Sets of manifest paths that changed, until `stop` is set."""
    accept = ManifestFilter(paths)
    async for changes in watchfiles.awatch(
        *accept.roots(), watch_filter=accept, stop_event=stop, step=STEP_MS
    ):
        yield {path for _, path in changes}
