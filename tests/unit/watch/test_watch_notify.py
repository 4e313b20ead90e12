"""`orc watch` tells the Fleet's receivers: drift, failure, recovery, refused plans, broken edits.

A recording sender stands in for the webhooks; the fake clock drives cool-downs and retries.
"""

from __future__ import annotations

import asyncio
import json

from reconciler.notify import Dispatcher
from reconciler.ollama.webhook import WebhookError
from reconciler.watch.metrics import WatchMetrics

from .conftest import settle

LLAMA, CODER = "llama3.2:3b", "qwen2.5-coder:7b"
FLEET = """apiVersion: ollama-reconciler/v1
kind: Fleet
metadata: {name: prod}
spec:
  notifications:
    - name: ops
      url: {env: OPS_WEBHOOK}
      repeatInterval: %s
"""
URL = "https://hooks.example.com/services/T0/B0/sekrit-path-0123456789"


class Receiver:
    """Records every message that arrives; fails while `failing` is set."""

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = []
        self.urls: list[str] = []
        self.failing: WebhookError | None = None

    async def __call__(self, url: str, body: bytes, seconds: float) -> None:
        if self.failing is not None:
            raise self.failing
        self.urls.append(url)
        self.messages.append(json.loads(body))

    def kinds(self) -> list[list[tuple[str, str | None]]]:
        return [[(e["kind"], e["instance"]) for e in m["events"]] for m in self.messages]  # type: ignore[index]


def _bench(bench, receiver: Receiver, servers, repeat: str = "1h", **options):
    clock_holder: list[object] = []

    async def sleep(seconds: float) -> None:
        await clock_holder[0].sleep(seconds)  # type: ignore[attr-defined]

    metrics = WatchMetrics()
    dispatcher = Dispatcher(
        receiver, sleep=sleep, env={"OPS_WEBHOOK": URL}, on_delivery=metrics.notified
    )
    b = bench(servers, dispatcher=dispatcher, **options)
    clock_holder.append(b.clock)
    b.metrics = metrics
    b.write("fleet.yaml", FLEET % repeat)
    return b


async def test_drift_failure_recovery_refusal_and_a_broken_edit_are_told(bench):
    receiver = Receiver()
    b = _bench(bench, receiver, {"a": [LLAMA, CODER], "b": [LLAMA]}, interval=10, jitter=0)
    b.write("a.yaml", b.manifest("a", [LLAMA, CODER]))
    b.write("b.yaml", b.manifest("b", [LLAMA]))
    await b.start()
    assert receiver.messages == [], "a fleet in sync at start is nothing to tell"

    b.server("a").models.discard(CODER)  # `ollama rm` by hand
    await b.clock.advance(10)
    assert receiver.kinds()[-1] == [("drift", "a"), ("applied", "a")]
    assert receiver.urls[-1] == URL

    b.server("b").reachable = False  # the instance stopped
    await b.clock.advance(10)
    assert receiver.kinds()[-1] == [("failure", "b")]
    b.server("b").reachable = True  # started again; its backoff retry finds it
    await b.clock.advance(10)
    assert receiver.kinds()[-1] == [("recovery", "b")]

    await b.edit("a.yaml", b.manifest("a", absent=[LLAMA, CODER]))  # would empty "a"
    await b.clock.advance(0.3)
    assert receiver.kinds()[-1] == [("refused", "a")]
    await b.edit("a.yaml", b.manifest("a", [LLAMA, CODER]))
    await b.clock.advance(0.3)

    count = len(receiver.messages)
    await b.edit(
        "b.yaml", "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\nmetadata: {name: b\n"
    )
    await b.clock.advance(0.3)
    assert receiver.kinds()[count:] == [[("invalid", None)]]
    invalid = receiver.messages[-1]["events"][0]  # type: ignore[index]
    assert invalid["details"][0].startswith(str(b.folder / "b.yaml"))
    assert receiver.messages[-1]["fleet"] == "prod"
    await b.clock.advance(10)  # the interval, still broken: told once
    assert len(receiver.messages) == count + 1
    await b.edit("b.yaml", b.manifest("b", [LLAMA]))
    await b.clock.advance(0.3)
    assert receiver.kinds()[-1] == [("recovery", None)]
    assert all(URL not in json.dumps(m) for m in receiver.messages)
    assert b.record.document["notifications"][0]["sent"] == len(receiver.messages)


async def test_a_flapping_instance_is_told_once_per_repeat_interval(bench):
    receiver = Receiver()
    b = _bench(
        bench, receiver, {"a": [LLAMA]}, repeat="1m", interval=10, jitter=0, backoff_base=0.001
    )
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    await b.start()
    for _ in range(6):  # down and up every ten seconds for a minute
        b.server("a").reachable = not b.server("a").reachable
        await b.clock.advance(10)
    assert receiver.kinds() == [[("failure", "a")], [("recovery", "a")]]
    for _ in range(2):
        b.server("a").reachable = not b.server("a").reachable
        await b.clock.advance(10)
    assert receiver.kinds()[2:] == [[("failure", "a")], [("recovery", "a")]]


async def test_several_instances_failing_at_once_are_one_message(bench):
    receiver = Receiver()
    b = _bench(bench, receiver, {"a": [LLAMA], "b": [LLAMA], "c": [LLAMA]}, interval=10)
    for name in "abc":
        b.write(f"{name}.yaml", b.manifest(name, [LLAMA]))
    await b.start()
    for name in "abc":
        b.server(name).reachable = False
    await b.clock.advance(10)
    assert receiver.kinds() == [[("failure", "a"), ("failure", "b"), ("failure", "c")]]


async def test_a_failing_webhook_is_retried_never_holds_the_loop_and_shows(bench):
    receiver = Receiver()
    receiver.failing = WebhookError("webhook hooks.example.com: answered 503", transient=True)
    b = _bench(bench, receiver, {"a": [LLAMA, CODER]}, interval=10, jitter=0)
    b.write("a.yaml", b.manifest("a", [LLAMA, CODER]))
    await b.start()
    b.server("a").models.discard(CODER)
    await b.clock.advance(10)
    cycles = b.cycles
    assert b.record.last.result.value == "applied", "the reconcile did not wait for the webhook"
    await b.clock.advance(1 + 2 + 4)  # the retries' backoff
    await settle()
    status = b.record.document["notifications"]
    assert status == [
        {
            "receiver": "ops",
            "format": "generic",
            "target": "hooks.example.com",
            "sent": 0,
            "failed": 1,
            "lastError": "webhook hooks.example.com: answered 503",
            "lastSentAt": None,
            "lastFailedAt": status[0]["lastFailedAt"],
        }
    ]
    scrape = b.metrics.render().decode()
    assert 'orc_notifications_failed_total{receiver="ops"} 1.0' in scrape
    assert URL not in scrape and URL not in json.dumps(b.record.document)
    assert b.cycles >= cycles
    await asyncio.sleep(0)
