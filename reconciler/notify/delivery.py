"""Delivering messages in the background: bounded queues, a deadline per try, retries.

`submit` never waits: each receiver has a queue of at most `queue_size` messages served by its
own task, so a slow or dead webhook delays neither the reconcile loop nor the other receivers.
When a queue is full its oldest message is dropped and counted as failed. A message is tried
`attempts` times at most, with a doubling delay (sleep injected), only while the failure may pass
(no answer, 429, 5xx); each try has a deadline, so a message is settled within a bounded time.

The receiver's URL is resolved when sending, under the runner's secret policy (see
docs/security.md, Secret files); neither it nor the reason of a refused secret is shown beyond
the webhook's host and the reference's description (`env SLACK_WEBHOOK_URL`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.desired import Receiver, SecretRef
from reconciler.errors import SecretError
from reconciler.manifest.secretpolicy import SecretPolicy
from reconciler.manifest.secrets import resolve_secret
from reconciler.ollama.webhook import WebhookError, post_webhook, webhook_host

Sender = Callable[[str, bytes, float], Awaitable[None]]  # url, body, seconds; raises WebhookError
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard to try: a deadline per try, tries, backoff between them, queue length."""

    timeout: float = 10.0
    attempts: int = 4
    base_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 30.0
    queue_size: int = 50

    def delay(self, attempt: int) -> float:
        """The wait after failed try `attempt` (1-based)."""
        return float(min(self.max_delay, self.base_delay * self.factor ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class Message:
    """One notification for one receiver: a rendered body and how many events it tells."""

    receiver: Receiver
    body: bytes = field(repr=False)
    events: int = 1


@dataclass(frozen=True, slots=True)
class Delivery:
    """How a message ended: delivered, or failed (after `attempts` tries, or dropped unsent)."""

    receiver: str
    target: str  # the webhook's host, or the reference's description before it was resolved
    ok: bool
    attempts: int
    error: str | None = None


@dataclass
class ReceiverStats:
    """A receiver's tally, for `/status`."""

    name: str
    format: str
    target: str
    sent: int = 0
    failed: int = 0
    last_error: str | None = None
    last_sent_at: datetime | None = None
    last_failed_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The receiver's part of the status document's `notifications`."""
        return {
            "receiver": self.name,
            "format": self.format,
            "target": self.target,
            "sent": self.sent,
            "failed": self.failed,
            "lastError": self.last_error,
            "lastSentAt": self.last_sent_at.isoformat() if self.last_sent_at else None,
            "lastFailedAt": self.last_failed_at.isoformat() if self.last_failed_at else None,
        }


def describe_target(receiver: Receiver) -> str:
    """What a receiver's URL may be shown as: its host, or the reference's description."""
    url = receiver.url
    return url.describe() if isinstance(url, SecretRef) else webhook_host(url)


def _ignore(_: Delivery) -> None:
    return None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Sends messages in background tasks, one per receiver; see the module docstring."""

    def __init__(
        self,
        sender: Sender = post_webhook,
        *,
        policy: DeliveryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        wall: Callable[[], datetime] = _utcnow,
        env: Mapping[str, str] | None = None,
        secrets: SecretPolicy | None = None,
        on_delivery: Callable[[Delivery], None] = _ignore,
    ) -> None:
        self.sender, self.sleep, self.wall = sender, sleep, wall
        self.policy = policy or DeliveryPolicy()
        self.env, self.secrets = env, secrets or SecretPolicy()
        self.on_delivery = on_delivery
        self.stats: dict[str, ReceiverStats] = {}
        self._queues: dict[str, deque[Message]] = {}
        self._ready: dict[str, asyncio.Event] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._busy: set[str] = set()
        self._quiet = asyncio.Event()  # set while nothing is queued or being sent
        self._quiet.set()

    def submit(self, message: Message) -> None:
        """Queue a message (never waits); when the queue is full, the oldest is dropped."""
        name = message.receiver.name
        self._stats(message.receiver)
        queue = self._queues.setdefault(name, deque())
        if len(queue) >= self.policy.queue_size:
            dropped = queue.popleft()
            self._settle(
                Delivery(
                    name,
                    describe_target(dropped.receiver),
                    ok=False,
                    attempts=0,
                    error="the queue was full: the oldest message was dropped unsent",
                )
            )
        queue.append(message)
        self._quiet.clear()
        self._ready.setdefault(name, asyncio.Event()).set()
        if name not in self._workers or self._workers[name].done():
            self._workers[name] = asyncio.get_running_loop().create_task(
                self._work(name), name=f"orc-notify-{name}"
            )

    def pending(self) -> int:
        """Messages queued or being sent."""
        return sum(len(q) for q in self._queues.values()) + len(self._busy)

    async def drain(self, seconds: float) -> bool:
        """Wait up to `seconds` for every queued message to settle; whether they did."""
        try:
            async with asyncio.timeout(seconds):
                await self._quiet.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop the background tasks; queued messages are not sent."""
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()

    def _stats(self, receiver: Receiver) -> ReceiverStats:
        stats = self.stats.get(receiver.name)
        if stats is None:
            stats = ReceiverStats(receiver.name, receiver.format, describe_target(receiver))
            self.stats[receiver.name] = stats
        return stats

    async def _work(self, name: str) -> None:
        queue, ready = self._queues[name], self._ready[name]
        while True:
            if not queue:
                ready.clear()
                await ready.wait()
                continue
            message = queue.popleft()
            self._busy.add(name)
            try:
                self._settle(await self._deliver(message))
            finally:
                self._busy.discard(name)
                if not self.pending():
                    self._quiet.set()

    async def _deliver(self, message: Message) -> Delivery:
        receiver = message.receiver
        target = describe_target(receiver)
        try:
            url = self._url(receiver)
        except SecretError as exc:
            return Delivery(receiver.name, target, ok=False, attempts=0, error=str(exc))
        target = webhook_host(url)
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.sender(url, message.body, self.policy.timeout)
            except WebhookError as exc:
                if not exc.transient or attempt >= self.policy.attempts:
                    return Delivery(receiver.name, target, False, attempt, exc.message)
                await self.sleep(self.policy.delay(attempt))
                continue
            return Delivery(receiver.name, target, ok=True, attempts=attempt)

    def _url(self, receiver: Receiver) -> str:
        url = receiver.url
        if isinstance(url, str):
            return url
        return resolve_secret(url, self.env, self.secrets, receiver.field_path)

    def _settle(self, delivery: Delivery) -> None:
        stats = self.stats.get(delivery.receiver)
        if stats is not None:
            stats.target = delivery.target
            if delivery.ok:
                stats.sent += 1
                stats.last_sent_at = self.wall()
            else:
                stats.failed += 1
                stats.last_error = delivery.error
                stats.last_failed_at = self.wall()
        self.on_delivery(delivery)
