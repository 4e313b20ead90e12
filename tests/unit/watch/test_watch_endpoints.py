"""What the daemon tells the outside world: /healthz, /status, /metrics, POST /reconcile and the
status file, read from a loop running on the fake clock."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import jsonschema
from prometheus_client.parser import text_string_to_metric_families

from reconciler.watch import WatchMetrics, make_app
from reconciler.watch.statusfile import write_atomically

LLAMA, CODER = "llama3.2:3b", "qwen2.5-coder:7b"
SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
TOKEN = "hook-SECRET-7c1d"


def client(b, metrics: WatchMetrics, token: str | None = None) -> httpx.AsyncClient:
    app = make_app(b.record, metrics, b.loop.request, b.clock, token)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://watch")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


async def started(bench, metrics: WatchMetrics | None = None, **servers):
    b = bench(servers or {"a": [LLAMA], "b": [LLAMA]}, interval=10, jitter=0)
    b.write("a.yaml", b.manifest("a", [LLAMA, CODER]))
    b.write("b.yaml", b.manifest("b", [LLAMA]))
    if metrics is not None:
        b.loop.listeners.append(metrics.reconciled)
    await b.start()
    return b


async def test_healthz_fails_when_no_reconcile_finished_for_three_intervals(bench):
    metrics = WatchMetrics()
    b = await started(bench, metrics)
    async with client(b, metrics) as http:
        assert (await http.get("/healthz")).status_code == 200
        b.reconciler.hold_plan = asyncio.Event()  # the next reconcile hangs
        await b.clock.advance(30)
        assert (await http.get("/healthz")).status_code == 200
        await b.clock.advance(11)
        reply = await http.get("/healthz")
        assert reply.status_code == 503
        assert reply.json() == {"status": "unhealthy"}
        b.reconciler.hold_plan.set()
        await b.clock.advance(0)
        assert (await http.get("/healthz")).status_code == 200
        await b.stop()
        assert (await http.get("/healthz")).status_code == 503, "the loop is no longer running"


async def test_status_is_the_status_document_with_conditions_and_manifests(bench):
    metrics = WatchMetrics()
    b = await started(bench, metrics)
    async with client(b, metrics) as http:
        document = (await http.get("/status")).json()
    assert [i["name"] for i in document["instances"]] == ["a", "b"]
    assert {m["model"] for m in document["models"] if m["instance"] == "a"} == {LLAMA, CODER}
    assert [c["type"] for c in document["conditions"]] == ["Ready", "Reconciling", "Stalled"]
    assert [c["status"] for c in document["conditions"]] == ["True", "False", "False"]
    assert all(
        c["lastTransitionTime"].startswith("2025-06-01T12:00") for c in document["conditions"]
    )
    assert document["lastReconcile"]["result"] == "applied"
    assert document["lastReconcile"]["trigger"] == "startup"
    assert document["manifests"]["valid"] is True
    assert document["mode"] == "apply"
    core = {
        k: v
        for k, v in document.items()
        if k in ("format_version", "kind", "generated_at", "fleet", "instances", "models")
    }
    schema = json.loads((SCHEMAS / "status.v1.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(core)


async def test_condition_transition_times_move_only_when_the_status_changes(bench):
    b = await started(bench)
    ready = b.record.document["conditions"][0]
    await b.clock.advance(10)  # another reconcile, still ready
    assert b.record.document["conditions"][0]["lastTransitionTime"] == ready["lastTransitionTime"]
    b.server("b").reachable = False
    await b.clock.advance(10)
    now_ready = b.record.document["conditions"][0]
    assert now_ready["status"] == "False"
    assert now_ready["lastTransitionTime"] == "2025-06-01T12:00:20+00:00"


async def test_metrics_match_the_fleet(bench):
    metrics = WatchMetrics()
    b = await started(bench, metrics)
    b.server("a").models.discard(CODER)
    b.server("b").reachable = False
    await b.clock.advance(10)
    async with client(b, metrics) as http:
        reply = await http.get("/metrics")
    assert reply.headers["content-type"].startswith("text/plain")
    found = samples(reply.text)
    a, bb = (("instance", "a"),), (("instance", "b"),)
    assert found[("orc_instance_up", a)] == 1
    assert found[("orc_instance_up", bb)] == 0
    assert found[("orc_instance_latency_seconds", a)] == 0.005
    assert found[("orc_models_desired", a)] == 2
    assert found[("orc_models_present", a)] == 2, "the interval healed the drift"
    assert found[("orc_models_missing", a)] == 0
    assert found[("orc_drift_detected", a)] == 0
    assert ("orc_models_present", bb) not in found, "unknown, not zero"
    assert found[("orc_reconciles_total", (("result", "applied"),))] == 2
    assert found[("orc_reconcile_duration_seconds_count", ())] == 2
    assert (
        found[("orc_last_reconcile_timestamp_seconds", ())] == b.record.last.finished_at.timestamp()
    )
    assert found[("orc_manifests_valid", ())] == 1
    await b.edit("a.yaml", "kind: [")
    await b.clock.advance(0.3)
    assert samples(metrics.render().decode())[("orc_manifests_valid", ())] == 0


async def test_post_reconcile_queues_a_reconcile(bench):
    metrics = WatchMetrics()
    b = await started(bench, metrics)
    async with client(b, metrics) as http:
        reply = await http.post("/reconcile")
        assert reply.status_code == 202
        await b.clock.advance(0)
    assert b.cycles == 2
    assert b.record.last.trigger == "manual"


async def test_post_reconcile_wants_the_webhook_token_and_never_echoes_it(bench):
    metrics = WatchMetrics()
    b = await started(bench, metrics)
    async with client(b, metrics, token=TOKEN) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            reply = await http.post("/reconcile", headers=headers)
            assert reply.status_code == 401
            assert TOKEN not in reply.text
            assert reply.headers["www-authenticate"] == "Bearer"
        await b.clock.advance(0)
        assert b.cycles == 1
        reply = await http.post("/reconcile", headers={"Authorization": f"Bearer {TOKEN}"})
        assert reply.status_code == 202
        await b.clock.advance(0)
    assert b.cycles == 2


async def test_the_status_file_is_the_status_document_rewritten_after_every_reconcile(
    bench, tmp_path
):
    target = tmp_path / "status.json"
    b = bench({"a": [LLAMA]}, interval=10, jitter=0)
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    b.loop.listeners.append(lambda record: write_atomically(target, record.document))
    await b.start()
    first = json.loads(target.read_text(encoding="utf-8"))
    assert first == json.loads(json.dumps(b.record.document))
    assert first["lastReconcile"]["number"] == 1
    await b.clock.advance(10)
    assert json.loads(target.read_text(encoding="utf-8"))["lastReconcile"]["number"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifests", "status.json"]


async def test_a_failing_status_file_does_not_stop_the_loop(bench, tmp_path):
    b = bench({"a": [LLAMA]}, interval=10, jitter=0)
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    b.loop.listeners.append(lambda record: write_atomically(tmp_path / "gone" / "s.json", {}))
    await b.start()
    await b.clock.advance(10)
    assert b.cycles == 2
