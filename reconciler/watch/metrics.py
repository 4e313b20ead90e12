"""Prometheus metrics of `orc watch`, in a registry of their own (no process-wide globals).

Per-instance gauges are rebuilt from the status after every reconcile, so an instance removed
from the manifests disappears from the scrape; an instance whose inventory is unknown (it could
not be probed) has no `models_present`/`missing`/`drift` sample rather than a wrong one.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from reconciler.notify import Delivery
from reconciler.observed import Sync
from reconciler.watch.record import WatchRecord

CONTENT_TYPE = CONTENT_TYPE_LATEST
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class WatchMetrics:
    """The metrics, updated from the record after each reconcile; `render()` for a scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        by_instance = ["instance"]
        self.up = Gauge(
            "orc_instance_up", "1 when the instance answered its probe.", by_instance, registry=r
        )
        self.latency = Gauge(
            "orc_instance_latency_seconds", "Round trip of the last probe.", by_instance, registry=r
        )
        self.desired = Gauge(
            "orc_models_desired", "Models the manifests declare present.", by_instance, registry=r
        )
        self.present = Gauge(
            "orc_models_present",
            "Declared models installed on the instance.",
            by_instance,
            registry=r,
        )
        self.missing = Gauge(
            "orc_models_missing", "Declared models not installed.", by_instance, registry=r
        )
        self.drift = Gauge(
            "orc_drift_detected",
            "1 when the instance does not match the manifests.",
            by_instance,
            registry=r,
        )
        self.reconciles = Counter(
            "orc_reconciles", "Reconciles, by how they ended.", ["result"], registry=r
        )
        self.duration = Histogram(
            "orc_reconcile_duration_seconds",
            "Time one reconcile took.",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.last_reconcile = Gauge(
            "orc_last_reconcile_timestamp_seconds",
            "When the last reconcile ended (Unix time).",
            registry=r,
        )
        self.manifests_valid = Gauge(
            "orc_manifests_valid", "1 when the manifests on disk are valid.", registry=r
        )
        self.held = Gauge(
            "orc_sync_window_held_actions",
            "Actions a sync window held back at the last reconcile.",
            ["window"],
            registry=r,
        )
        self.notifications_sent = Counter(
            "orc_notifications_sent", "Notifications delivered.", ["receiver"], registry=r
        )
        self.notifications_failed = Counter(
            "orc_notifications_failed",
            "Notifications not delivered (after their retries, or dropped from a full queue).",
            ["receiver"],
            registry=r,
        )

    def notified(self, delivery: Delivery) -> None:
        """Count a notification delivered or failed."""
        counter = self.notifications_sent if delivery.ok else self.notifications_failed
        counter.labels(receiver=delivery.receiver).inc()

    def reconciled(self, record: WatchRecord) -> None:
        """Count the reconcile that just ended and refresh every gauge."""
        last = record.last
        if last is not None:
            self.reconciles.labels(result=str(last.result)).inc()
            self.duration.observe(last.duration)
            self.last_reconcile.set(last.finished_at.timestamp())
        self.manifests_valid.set(1 if record.manifests.valid else 0)
        self.held.clear()
        for held in record.held_back.actions:
            self.held.labels(held.window).inc()
        self._instances(record)

    def render(self) -> bytes:
        """The text exposition format."""
        data: bytes = generate_latest(self.registry)
        return data

    def _instances(self, record: WatchRecord) -> None:
        for gauge in (self.up, self.latency, self.desired, self.present, self.missing, self.drift):
            gauge.clear()
        for inst in record.status.instances:
            name = inst.name
            self.up.labels(name).set(1 if inst.health.usable else 0)
            self.desired.labels(name).set(inst.models_declared)
            if inst.latency_ms is not None:
                self.latency.labels(name).set(inst.latency_ms / 1000)
            if inst.models_present is not None:
                self.present.labels(name).set(inst.models_present)
                self.missing.labels(name).set(inst.models_declared - inst.models_present)
            if inst.sync is not Sync.UNKNOWN:
                self.drift.labels(name).set(1 if inst.sync is Sync.OUT_OF_SYNC else 0)
