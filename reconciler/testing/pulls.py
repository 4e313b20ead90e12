"""Simulated model downloads: Ollama's pull status sequence, at a configured speed, resumable.

Each blob is fetched by one `BlobDownload` that every concurrent pull of it watches (Ollama shares
downloads). Progress lives in the server's blob store, so a pull that was cut off leaves a partial
blob and the next pull resumes from it. Progress lines come from a 60 ms ticker, as in Ollama;
`completed` is omitted while it is 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from reconciler.names import ModelName
from reconciler.testing.catalog import Registry
from reconciler.testing.faults import SimulatedConnectionDrop
from reconciler.testing.responses import Event, StreamError
from reconciler.testing.spec import Layer
from reconciler.testing.state import SimState

TICK = 0.06
UNKNOWN_MODEL = "pull model manifest: file does not exist"


class BlobDownload:
    """One blob being downloaded at `speed` bytes/s (None: instantly), up to an optional cap."""

    def __init__(self, blob: Layer, state: SimState, speed: float | None) -> None:
        self.blob = blob
        self.watchers = 0
        self._state = state
        self._speed = speed
        self._cap = blob.size
        self._task: asyncio.Task[None] | None = None

    @property
    def completed(self) -> int:
        """Bytes of the blob on disk so far."""
        return min(self.blob.size, self._state.blobs.get(self.blob.digest, 0))

    @property
    def instant(self) -> bool:
        """Whether downloads complete at once (no pull speed configured)."""
        return self._speed is None

    def next_tick(self) -> float:
        """Seconds until the next progress update: one tick, or less when nearly done."""
        if self._speed is None:
            return 0.0
        return min(TICK, max(0.001, (self._cap - self.completed) / self._speed))

    def run(self, cap: int | None = None) -> None:
        """Start (or keep) downloading; stop at `cap` bytes when given."""
        self._cap = self.blob.size if cap is None else min(self.blob.size, cap)
        if self._speed is None:
            self._state.blobs[self.blob.digest] = max(self.completed, self._cap)
        elif self._task is None or self._task.done():
            self._task = asyncio.create_task(self._advance(self._speed))

    def stop(self) -> None:
        """Abandon the download; what was fetched stays on disk."""
        if self._task is not None:
            self._task.cancel()

    async def _advance(self, speed: float) -> None:
        loop = asyncio.get_running_loop()
        start, began = self.completed, loop.time()
        while self.completed < min(self._cap, self.blob.size):
            await asyncio.sleep(self.next_tick())
            reached = start + int(speed * (loop.time() - began))
            self._state.blobs[self.blob.digest] = min(reached, self._cap, self.blob.size)


class DownloadPool:
    """The downloads in flight on one server, shared by the pulls that need the same blob."""

    def __init__(self, state: SimState, speed: float | None) -> None:
        self.state = state
        self.speed = speed
        self.active: dict[str, BlobDownload] = {}

    def join(self, blob: Layer) -> BlobDownload:
        """The download of `blob`, started if no pull is fetching it yet."""
        download = self.active.get(blob.digest)
        if download is None:
            download = self.active[blob.digest] = BlobDownload(blob, self.state, self.speed)
        download.watchers += 1
        return download

    def leave(self, download: BlobDownload) -> None:
        """A pull no longer watches `download`; the last one to leave stops it."""
        download.watchers -= 1
        if download.watchers <= 0:
            download.stop()
            self.active.pop(download.blob.digest, None)


class Budget:
    """Bytes a pull may still make progress by before its connection is dropped (a fault)."""

    def __init__(self, nbytes: int) -> None:
        self.remaining = nbytes

    def spend(self, nbytes: int) -> None:
        """Account progress; raise `SimulatedConnectionDrop` once the budget is used up."""
        self.remaining -= nbytes
        if self.remaining <= 0:
            raise SimulatedConnectionDrop("simulated connection drop during pull")


def progress_line(blob: Layer, completed: int) -> dict[str, Any]:
    """`{"status":"pulling <12 hex>","digest":"sha256:..","total":N,"completed":M}`."""
    line: dict[str, Any] = {
        "status": f"pulling {blob.digest[:12]}",
        "digest": blob.prefixed,
        "total": blob.size,
    }
    if completed:
        line["completed"] = completed
    return line


async def watch(
    download: BlobDownload, budget: Budget | None
) -> AsyncGenerator[dict[str, Any], None]:
    """Progress lines of one blob until it is complete (or the budget drops the connection)."""
    blob = download.blob
    seen = download.completed
    if seen >= blob.size:
        yield progress_line(blob, blob.size)
        return
    yield progress_line(blob, seen)
    sole = download.watchers == 1
    download.run(seen + budget.remaining if budget is not None and sole else None)
    while True:
        if not download.instant:
            await asyncio.sleep(download.next_tick())
        now = download.completed
        yield progress_line(blob, now)
        if budget is not None:
            budget.spend(now - seen)
        seen = now
        if now >= blob.size:
            return


async def pull_events(
    state: SimState, registry: Registry, pool: DownloadPool, name: ModelName, drop_after: int | None
) -> AsyncGenerator[Event, None]:
    """The status sequence of `POST /api/pull` for `name`, installing the model at the end."""
    yield {"status": "pulling manifest"}
    spec = registry.get(name)
    if spec is None:
        yield StreamError(UNKNOWN_MODEL)
        return
    budget = Budget(drop_after) if drop_after is not None else None
    for blob in spec.blobs:
        download = pool.join(blob)
        try:
            async for line in watch(download, budget):
                yield line
        finally:
            pool.leave(download)
    yield {"status": "verifying sha256 digest"}
    yield {"status": "writing manifest"}
    previous = state.find(name)
    state.install(previous.name if previous else name, spec)
    if previous is not None:
        kept = {blob.digest for blob in spec.blobs}
        stale = tuple(blob for blob in previous.spec.blobs if blob.digest not in kept)
        if stale:
            yield {"status": "removing unused layers"}
            for blob in state.unused_blobs(stale):
                state.blobs.pop(blob.digest, None)
    yield {"status": "success"}
