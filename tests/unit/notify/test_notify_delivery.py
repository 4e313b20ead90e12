"""Delivery in the background: retries with backoff, bounded queues, secrets resolved late."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.desired import Receiver, SecretRef
from reconciler.manifest.secretpolicy import SecretPolicy
from reconciler.notify import Delivery, DeliveryPolicy, Dispatcher, Message
from reconciler.ollama.webhook import WebhookError

URL = "https://hooks.example.com/services/T000/B000/XXXXXXXXXXXXXXXX"


class Recorder:
    """A sender that records what arrives and fails as scripted."""

    def __init__(self, failures: list[WebhookError] | None = None) -> None:
        self.received: list[tuple[str, bytes, float]] = []
        self.failures = list(failures or [])
        self.gate: asyncio.Event | None = None

    async def __call__(self, url: str, body: bytes, seconds: float) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.received.append((url, body, seconds))
        if self.failures:
            raise self.failures.pop(0)


class Sleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def _dispatcher(sender: Recorder, **options: object) -> tuple[Dispatcher, list[Delivery], Sleeps]:
    seen: list[Delivery] = []
    sleeps = Sleeps()
    dispatcher = Dispatcher(sender, sleep=sleeps, on_delivery=seen.append, **options)  # type: ignore[arg-type]
    return dispatcher, seen, sleeps


async def test_transient_failures_are_retried_with_a_doubling_delay() -> None:
    busy = WebhookError("webhook hooks.example.com: answered 503", transient=True)
    sender = Recorder([busy, busy])
    dispatcher, seen, sleeps = _dispatcher(sender)
    dispatcher.submit(Message(Receiver("ops", URL), b"{}"))
    assert await dispatcher.drain(5)
    assert sleeps.slept == [1.0, 2.0]
    assert seen == [Delivery("ops", "hooks.example.com", ok=True, attempts=3)]
    assert dispatcher.stats["ops"].sent == 1
    await dispatcher.close()


async def test_a_permanent_failure_is_not_retried_and_is_counted() -> None:
    gone = WebhookError("webhook hooks.example.com: answered 404", transient=False)
    dispatcher, seen, sleeps = _dispatcher(Recorder([gone]))
    dispatcher.submit(Message(Receiver("ops", URL), b"{}"))
    assert await dispatcher.drain(5)
    assert sleeps.slept == []
    assert [(d.ok, d.attempts, d.error) for d in seen] == [
        (False, 1, "webhook hooks.example.com: answered 404")
    ]
    stats = dispatcher.stats["ops"].to_dict()
    assert (stats["failed"], stats["target"]) == (1, "hooks.example.com")
    assert URL not in str(stats)
    await dispatcher.close()


async def test_retries_are_bounded() -> None:
    busy = WebhookError("busy", transient=True)
    dispatcher, seen, sleeps = _dispatcher(Recorder([busy] * 10), policy=DeliveryPolicy(attempts=3))
    dispatcher.submit(Message(Receiver("ops", URL), b"{}"))
    assert await dispatcher.drain(5)
    assert (seen[0].ok, seen[0].attempts, sleeps.slept) == (False, 3, [1.0, 2.0])
    await dispatcher.close()


async def test_submit_never_waits_and_a_full_queue_drops_the_oldest() -> None:
    sender = Recorder()
    sender.gate = asyncio.Event()  # the webhook hangs
    dispatcher, seen, _ = _dispatcher(sender, policy=DeliveryPolicy(queue_size=2))
    receiver = Receiver("ops", URL)
    for n in range(5):
        dispatcher.submit(Message(receiver, str(n).encode()))  # synchronous: cannot block
    await asyncio.sleep(0)
    dropped = [d for d in seen if not d.ok]
    assert len(dropped) >= 2
    assert all("queue was full" in (d.error or "") for d in dropped)
    sender.gate.set()
    assert await dispatcher.drain(5)
    bodies = [body for _, body, _ in sender.received]
    assert bodies[-2:] == [b"3", b"4"], "the newest messages are kept"
    assert dispatcher.stats["ops"].failed == len(dropped)
    await dispatcher.close()


async def test_a_slow_receiver_does_not_hold_up_another() -> None:
    slow, fast = Recorder(), Recorder()
    slow.gate = asyncio.Event()

    async def sender(url: str, body: bytes, seconds: float) -> None:
        await (slow if "slow" in url else fast)(url, body, seconds)

    dispatcher = Dispatcher(sender)
    dispatcher.submit(Message(Receiver("slow", "http://slow.example/x"), b"{}"))
    dispatcher.submit(Message(Receiver("fast", "http://fast.example/x"), b"{}"))
    await asyncio.sleep(0.01)
    assert len(fast.received) == 1 and slow.received == []
    assert not await dispatcher.drain(0.01)
    await dispatcher.close()


async def test_a_url_from_a_variable_is_read_when_sending() -> None:
    sender = Recorder()
    env = {"SLACK_WEBHOOK_URL": URL}
    dispatcher, seen, _ = _dispatcher(sender, env=env)
    receiver = Receiver("slack", SecretRef(env="SLACK_WEBHOOK_URL"))
    dispatcher.submit(Message(receiver, b"{}"))
    assert await dispatcher.drain(5)
    assert sender.received[0][0] == URL
    assert seen[0].target == "hooks.example.com"


@pytest.mark.parametrize(
    ("env", "policy", "expected"),
    [
        ({}, SecretPolicy(), "environment variable SLACK_WEBHOOK_URL is not set"),
        (
            {"SLACK_WEBHOOK_URL": URL},
            SecretPolicy(env_patterns=("OLLAMA_*",)),
            "spec.notifications[0].url: environment variable SLACK_WEBHOOK_URL is not allowed",
        ),
    ],
)
async def test_a_missing_or_refused_variable_is_a_failure_that_shows_no_value(
    env: dict[str, str], policy: SecretPolicy, expected: str
) -> None:
    sender = Recorder()
    dispatcher, seen, _ = _dispatcher(sender, env=env, secrets=policy)
    ref = SecretRef(env="SLACK_WEBHOOK_URL")
    dispatcher.submit(
        Message(Receiver("slack", ref, field_path="spec.notifications[0].url"), b"{}")
    )
    assert await dispatcher.drain(5)
    assert sender.received == []
    assert seen[0].target == "env SLACK_WEBHOOK_URL"
    assert expected in (seen[0].error or "")
    assert URL not in (seen[0].error or "")
