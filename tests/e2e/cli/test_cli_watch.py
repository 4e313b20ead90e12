"""`orc watch` end to end: the daemon as a subprocess, simulated servers on real sockets.

Each test starts the daemon with `--listen 127.0.0.1:0 --log-format json`, learns its port from
the `http.listening` log line, and checks what an operator would see: models pulled after an
edit, a broken edit ignored and shown in /status, drift healed on the interval, an instance
healed after an outage, /metrics matching the fleet, and a clean exit 0 on SIGTERM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.cli.main import main
from reconciler.serverkey import server_key
from reconciler.state import ServerLocks, StateDir, lock_dir_path
from reconciler.testing import BackgroundFleet, SimFleet, SimInstanceConfig
from tests.support.watch_daemon import Daemon as WatchDaemon
from tests.support.watch_daemon import until

WATCH_STATUS_SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "schemas" / "watch-status.v1.schema.json").read_text()
)

pytestmark = pytest.mark.slow
FAST = 2e9  # bytes per second: the small models pull in well under a second
LLAMA, SMALL, EMBED = "llama3.2:3b", "smollm2:135m", "all-minilm:latest"


def manifest(name: str, url: str, models: list[str], keep_loaded: tuple[str, ...] = ()) -> str:
    lines = [
        "apiVersion: ollama-reconciler/v1",
        "kind: OllamaInstance",
        "metadata:",
        f"  name: {name}",
        "spec:",
        f"  url: {url}",
        "  timeout: 2s",
        "  models:",
    ]
    for model in models:
        lines.append(f'    - name: "{model}"')
        if model in keep_loaded:
            lines.append("      keepLoaded: true")
    return "\n".join(lines) + "\n"


class Daemon(WatchDaemon):
    """`orc watch` in a subprocess, whose /status is checked against the published schema."""

    def status(self) -> dict[str, Any]:
        """GET /status; every document served must match the published schema."""
        document: dict[str, Any] = httpx.get(f"{self.url}/status", timeout=5).json()
        jsonschema.validate(document, WATCH_STATUS_SCHEMA)
        return document


class Fleet:
    """The simulated servers and a way to act on them from the test's thread."""

    def __init__(self, background: BackgroundFleet, fleet: SimFleet) -> None:
        self.background, self.sim = background, fleet

    def models(self, name: str) -> set[str]:
        reply = httpx.get(f"{self.sim.url(name)}/api/tags", timeout=5)
        return {m["name"] for m in reply.json()["models"]}

    def loaded(self, name: str) -> set[str]:
        reply = httpx.get(f"{self.sim.url(name)}/api/ps", timeout=5)
        return {m["name"] for m in reply.json()["models"]}


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    configs = [
        SimInstanceConfig("sim-a", models=(LLAMA,), pull_speed=FAST),
        SimInstanceConfig("sim-b", models=(LLAMA, EMBED), loaded=(LLAMA,), pull_speed=FAST),
    ]
    background = BackgroundFleet(configs)
    with background as sim:
        yield Fleet(background, sim)


@pytest.fixture
def start(tmp_path: Path, fleet: Fleet) -> Iterator[Callable[..., Daemon]]:
    """`start(*flags)`: manifests for both servers as they are, then the daemon."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "sim-a.yaml").write_text(manifest("sim-a", fleet.sim.url("sim-a"), [LLAMA]))
    (folder / "sim-b.yaml").write_text(
        manifest("sim-b", fleet.sim.url("sim-b"), [LLAMA, EMBED], keep_loaded=(LLAMA,))
    )
    daemons: list[Daemon] = []

    def launch(*flags: str, **kwargs: Any) -> Daemon:
        daemons.append(Daemon(folder, tmp_path / ".orc", *flags, **kwargs))
        daemons[-1].folder = folder
        return daemons[-1]

    yield launch
    for daemon in daemons:
        assert daemon.stop() == 0
        daemon.clean()


def test_a_model_added_to_a_manifest_is_pulled_within_five_seconds(start, fleet, tmp_path):
    status_file = tmp_path / "status.json"
    daemon = start("--interval", "5m", "--status-file", str(status_file))
    assert daemon.reconciled(1)["result"] == "synced"
    written = time.monotonic()
    (daemon.folder / "sim-a.yaml").write_text(
        manifest("sim-a", fleet.sim.url("sim-a"), [LLAMA, SMALL])
    )
    until(lambda: SMALL in fleet.models("sim-a"), 5, f"{SMALL} on sim-a")
    assert time.monotonic() - written < 5
    done = daemon.wait("action.done", model=SMALL)
    assert (done["instance"], done["kind"]) == ("sim-a", "pull")
    finished = daemon.reconciled(2)
    assert (finished["result"], daemon.events[-1]["level"]) == ("applied", "info")
    on_disk = json.loads(status_file.read_text(encoding="utf-8"))
    assert on_disk["lastReconcile"]["number"] == 2
    assert on_disk["lastReconcile"]["result"] == "applied"
    assert {c["type"]: c["status"] for c in on_disk["conditions"]}["Ready"] == "True"


def test_a_truncated_manifest_changes_nothing_and_shows_in_status(start, fleet):
    daemon = start("--interval", "5m")
    daemon.reconciled(1)
    before = fleet.models("sim-b"), fleet.models("sim-a")
    full = manifest("sim-b", fleet.sim.url("sim-b"), [SMALL], keep_loaded=())
    (daemon.folder / "sim-b.yaml").write_text(full[: full.index("timeout") + 4])  # half-saved
    invalid = daemon.wait("manifests.invalid")
    assert invalid["file"].endswith("sim-b.yaml") and invalid["line"] > 0
    daemon.reconciled(2)
    document = daemon.status()
    assert document["manifests"]["valid"] is False
    [diagnostic] = [d for d in document["manifests"]["diagnostics"] if d["severity"] == "error"]
    assert diagnostic["file"].endswith("sim-b.yaml")
    assert diagnostic["text"].startswith(f"{diagnostic['file']}:{diagnostic['line']}:")
    conditions = {c["type"]: c for c in document["conditions"]}
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == (
        "False",
        "ManifestsInvalid",
    )
    assert conditions["Stalled"]["status"] == "True"
    time.sleep(0.5)
    assert (fleet.models("sim-b"), fleet.models("sim-a")) == before
    assert not any(e["event"] == "apply.started" for e in daemon.events)


def test_a_model_deleted_behind_its_back_is_pulled_again_at_the_next_interval(start, fleet):
    daemon = start("--interval", "1s")
    daemon.reconciled(1)
    reply = httpx.request("DELETE", f"{fleet.sim.url('sim-b')}/api/delete", json={"model": EMBED})
    assert reply.status_code == 200
    assert EMBED not in fleet.models("sim-b")
    until(lambda: EMBED in fleet.models("sim-b"), 4, f"{EMBED} pulled again")
    assert daemon.wait("action.done", model=EMBED)["instance"] == "sim-b"


def test_an_instance_that_goes_down_and_comes_back_is_healed(start, fleet):
    daemon = start("--interval", "1s")
    daemon.reconciled(1)
    assert fleet.loaded("sim-b") == {LLAMA}
    fleet.background.call(fleet.sim.stop("sim-b"))
    daemon.wait("instance.health", instance="sim-b", health="Unreachable")
    daemon.wait("instance.backoff", instance="sim-b")
    down = daemon.status()
    assert {i["name"]: i["health"] for i in down["instances"]} == {
        "sim-a": "Healthy",
        "sim-b": "Unreachable",
    }
    assert {c["type"]: c["reason"] for c in down["conditions"]}["Stalled"] == "InstanceUnreachable"
    # while it is down the manifests ask it for one more model
    (daemon.folder / "sim-b.yaml").write_text(
        manifest("sim-b", fleet.sim.url("sim-b"), [LLAMA, EMBED, SMALL], keep_loaded=(LLAMA,))
    )
    time.sleep(1.0)
    fleet.background.call(fleet.sim.start("sim-b"))  # a restart: its runners are gone
    until(
        lambda: SMALL in fleet.models("sim-b") and fleet.loaded("sim-b") == {LLAMA},
        8,
        "sim-b healed",
    )
    daemon.wait("instance.health", instance="sim-b", health="Healthy", previous="Unreachable")


def test_apply_waits_for_a_manual_apply_and_a_webhook_reconciles_now(start, fleet, tmp_path):
    token = "hook-SECRET-e2e-51c9"
    daemon = start("--interval", "5m", env={"ORC_WEBHOOK_TOKEN": token})
    daemon.reconciled(1)
    with StateDir(tmp_path / ".orc").lock(command="orc apply (by hand)"):
        (daemon.folder / "sim-a.yaml").write_text(
            manifest("sim-a", fleet.sim.url("sim-a"), [LLAMA, SMALL])
        )
        skipped = daemon.wait("apply.skipped")
        assert "orc apply (by hand)" in skipped["message"]
        assert daemon.reconciled(2)["result"] == "locked"
        stalled = {c["type"]: c for c in daemon.status()["conditions"]}["Stalled"]
        assert (stalled["status"], stalled["reason"]) == ("True", "LockHeld")
    assert SMALL not in fleet.models("sim-a")
    refused = httpx.post(f"{daemon.url}/reconcile", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401 and token not in refused.text
    accepted = httpx.post(f"{daemon.url}/reconcile", headers={"Authorization": f"Bearer {token}"})
    assert accepted.status_code == 202
    assert daemon.reconciled(3)["result"] == "applied"
    assert SMALL in fleet.models("sim-a")
    assert token not in json.dumps(daemon.events)


def test_apply_skips_a_server_another_working_copy_is_changing(start, fleet):
    daemon = start("--interval", "5m")
    daemon.reconciled(1)
    key = server_key(fleet.sim.url("sim-a"))
    with ServerLocks(lock_dir_path()).acquire([key], command="orc apply (other copy)"):
        (daemon.folder / "sim-a.yaml").write_text(
            manifest("sim-a", fleet.sim.url("sim-a"), [LLAMA, SMALL])
        )
        skipped = daemon.wait("apply.skipped")
        assert f"the server {key} is being changed by pid {os.getpid()}" in skipped["message"]
        assert "orc apply (other copy)" in skipped["message"]
        assert daemon.reconciled(2)["result"] == "locked"
    assert SMALL not in fleet.models("sim-a")
    (daemon.folder / "sim-a.yaml").write_text(
        manifest("sim-a", fleet.sim.url("sim-a"), [LLAMA, SMALL]) + "# touched\n"
    )
    assert daemon.reconciled(3)["result"] == "applied"
    assert SMALL in fleet.models("sim-a")


def test_metrics_parse_and_match_the_fleet(start, fleet):
    daemon = start("--interval", "5m", "--mode", "plan")
    assert daemon.reconciled(1)["result"] == "synced"
    (daemon.folder / "sim-a.yaml").write_text(
        manifest("sim-a", fleet.sim.url("sim-a"), [LLAMA, SMALL])
    )
    assert daemon.reconciled(2)["result"] == "drift"
    text = httpx.get(f"{daemon.url}/metrics", timeout=5).text
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    a, b = (("instance", "sim-a"),), (("instance", "sim-b"),)
    declared = {"sim-a": {LLAMA, SMALL}, "sim-b": {LLAMA, EMBED}}
    for name, labels in (("sim-a", a), ("sim-b", b)):
        present = declared[name] & fleet.models(name)
        assert found[("orc_instance_up", labels)] == 1
        assert found[("orc_models_desired", labels)] == len(declared[name])
        assert found[("orc_models_present", labels)] == len(present)
        assert found[("orc_models_missing", labels)] == len(declared[name] - present)
        assert 0 < found[("orc_instance_latency_seconds", labels)] < 5
    assert SMALL not in fleet.models("sim-a"), "--mode plan changes nothing"
    assert (found[("orc_drift_detected", a)], found[("orc_drift_detected", b)]) == (1, 0)
    assert found[("orc_manifests_valid", ())] == 1
    assert found[("orc_reconciles_total", (("result", "synced"),))] == 1
    assert found[("orc_reconciles_total", (("result", "drift"),))] == 1
    assert found[("orc_reconcile_duration_seconds_count", ())] == 2
    last = daemon.status()["lastReconcile"]
    assert last["result"] == "drift"
    assert found[("orc_last_reconcile_timestamp_seconds", ())] > time.time() - 60


def test_sigterm_stops_a_pull_in_flight_and_exits_0_within_ten_seconds(tmp_path):
    slow = [SimInstanceConfig("slow", models=(LLAMA,), pull_speed=20e6)]
    with BackgroundFleet(slow) as sim:
        folder = tmp_path / "manifests"
        folder.mkdir()
        (folder / "slow.yaml").write_text(manifest("slow", sim.url("slow"), [LLAMA, "llama3.1:8b"]))
        daemon = Daemon(folder, tmp_path / ".orc", "--interval", "5m")
        daemon.wait("apply.started")
        time.sleep(0.3)
        sent = time.monotonic()
        assert daemon.stop() == 0
        assert time.monotonic() - sent < 10
        daemon.clean()
        assert "action.cancelled" in [e["event"] for e in daemon.events]
        interrupted = daemon.wait("reconcile.finished", number=1)
        assert interrupted["result"] == "interrupted"


def test_usage_errors_exit_1(tmp_path, capsys):
    assert main(["watch", str(tmp_path / "missing")]) == 1
    assert "no such file or directory" in capsys.readouterr().err
    assert main(["watch", str(tmp_path), "--listen", "nowhere"]) == 1
    assert "is not HOST:PORT" in capsys.readouterr().err
    assert main(["watch", str(tmp_path), "--interval", "soon"]) == 1
    assert "invalid duration" in capsys.readouterr().err


def test_help_documents_the_flags_endpoints_and_exit_codes(capsys):
    assert main(["watch", "--help"]) == 0
    text = capsys.readouterr().out
    for needle in (
        "--interval",
        "--mode",
        "--listen",
        "--status-file",
        "--log-format",
        "--state-dir",
        "--parallelism",
        "--debounce",
        "/healthz",
        "/status",
        "/metrics",
        "POST /reconcile",
        "ORC_WEBHOOK_TOKEN",
        "SIGHUP",
        "Exit codes",
    ):
        assert needle in text, needle


def test_no_secret_reaches_logs_status_metrics_or_the_status_file(tmp_path):
    token, wrong = "watch-TOKEN-7d1e", "wrong-TOKEN-0b3a"
    configs = [
        SimInstanceConfig("locked", models=(LLAMA,), token=token, pull_speed=FAST),
        SimInstanceConfig("refused", models=(LLAMA,), token=token, pull_speed=FAST),
    ]
    folder, status_file = tmp_path / "manifests", tmp_path / "status.json"
    folder.mkdir()
    with BackgroundFleet(configs) as sim:
        for name, variable in (("locked", "GOOD_TOKEN"), ("refused", "BAD_TOKEN")):
            text = manifest(name, sim.url(name), [LLAMA, SMALL])
            text += f"  auth:\n    bearerToken: {{env: {variable}}}\n"
            text += "  headers:\n    X-Api-Key: {env: GOOD_TOKEN}\n"
            (folder / f"{name}.yaml").write_text(text)
        daemon = Daemon(
            folder,
            tmp_path / ".orc",
            "--interval",
            "5m",
            "--status-file",
            str(status_file),
            env={"GOOD_TOKEN": token, "BAD_TOKEN": wrong},
        )
        try:
            daemon.reconciled(1)
            status = daemon.status()
            metrics = httpx.get(f"{daemon.url}/metrics", timeout=5).text
        finally:
            assert daemon.stop() == 0
        daemon.clean()
        health = {i["name"]: i["health"] for i in status["instances"]}
        assert health == {"locked": "Healthy", "refused": "Unauthorized"}
        assert SMALL in {
            m["name"]
            for m in httpx.get(
                f"{sim.url('locked')}/api/tags", headers={"Authorization": f"Bearer {token}"}
            ).json()["models"]
        }
    everything = json.dumps(daemon.events) + json.dumps(status) + metrics + status_file.read_text()
    assert token not in everything
    assert wrong not in everything


def pruned(fleet: Fleet, models: list[str]) -> str:
    """sim-b with `prune: true`: every model it does not list is deleted."""
    text = manifest("sim-b", fleet.sim.url("sim-b"), models, keep_loaded=(LLAMA,))
    return text.replace("  models:\n", "  prune: true\n  models:\n")


def prefix(text: str, model: str) -> str:
    """`text` cut just before the entry of `model`: still a valid manifest."""
    return text[: text.index(f'    - name: "{model}"')]


def test_a_manifest_saved_in_two_steps_never_has_its_prefix_applied(start, fleet, tmp_path):
    whole = pruned(fleet, [LLAMA, EMBED])
    (tmp_path / "manifests" / "sim-b.yaml").write_text(whole)
    daemon = start("--interval", "5m")
    assert daemon.reconciled(1)["result"] == "synced"
    target = daemon.folder / "sim-b.yaml"
    # a pause longer than the debounce, shorter than --settle (1s): the prefix is never read
    target.write_text(prefix(whole, EMBED))
    time.sleep(0.6)
    target.write_text(whole)
    daemon.reconciled(2)
    time.sleep(1.5)
    assert not any(e["event"] == "deletion.held" for e in daemon.events)
    # a pause of a few seconds: the prefix is read, its deletion waits pruneDelay (30s)
    target.write_text(prefix(whole, EMBED))
    held = daemon.wait("deletion.held", timeout=10, model=EMBED)
    assert (held["instance"], held["delay"]) == ("sim-b", 30.0)
    [pending] = daemon.status()["pendingDeletions"]
    assert (pending["instance"], pending["model"], pending["reason"]) == (
        "sim-b",
        EMBED,
        "not declared and prune: true",
    )
    time.sleep(2.0)
    target.write_text(whole)
    daemon.wait("deletion.dropped", timeout=10, model=EMBED)
    assert daemon.status()["pendingDeletions"] == []
    assert EMBED in fleet.models("sim-b")
    assert not any(e["event"] == "action.done" and e["kind"] == "delete" for e in daemon.events)


def test_a_blank_webhook_token_refuses_to_start(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "watch", str(tmp_path), "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "ORC_WEBHOOK_TOKEN": " "},
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "ORC_WEBHOOK_TOKEN is set but empty: POST /reconcile would accept anyone" in done.stderr
    assert "Traceback" not in done.stderr


def sharded(name: str, url: str, shard: str, models: list[str]) -> str:
    labelled = manifest(name, url, models)
    return labelled.replace(f"  name: {name}\n", f"  name: {name}\n  labels: {{shard: {shard}}}\n")


def test_two_watchers_with_disjoint_selectors_each_touch_only_their_own_servers(fleet, tmp_path):
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "sim-a.yaml").write_text(
        sharded("sim-a", fleet.sim.url("sim-a"), "a", [LLAMA, SMALL])
    )
    (folder / "sim-b.yaml").write_text(
        sharded("sim-b", fleet.sim.url("sim-b"), "b", [LLAMA, EMBED, SMALL])
    )
    first = Daemon(folder, tmp_path / "state-a", "--selector", "shard=a", "--interval", "5m")
    try:
        assert first.reconciled(1)["result"] == "applied"
        assert SMALL in fleet.models("sim-a")
        assert SMALL not in fleet.models("sim-b")  # not its shard: untouched
        document = first.status()
        assert document["owned"] == {"selector": {"shard": "a"}, "instances": ["sim-a"]}
        assert [i["name"] for i in document["instances"]] == ["sim-a"]

        second = Daemon(folder, tmp_path / "state-b", "--selector", "shard=b", "--interval", "5m")
        try:
            assert second.reconciled(1)["result"] == "applied"
            assert SMALL in fleet.models("sim-b")
            assert second.status()["owned"]["instances"] == ["sim-b"]
        finally:
            assert second.stop() == 0
        acted = {(d, e["instance"]) for d in (first, second) for e in d.events if "instance" in e}
        assert {name for daemon, name in acted if daemon is first} == {"sim-a"}
        assert {name for daemon, name in acted if daemon is second} == {"sim-b"}
    finally:
        assert first.stop() == 0


def test_a_selector_that_matches_no_instance_refuses_to_start(fleet, tmp_path):
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "sim-a.yaml").write_text(sharded("sim-a", fleet.sim.url("sim-a"), "a", [LLAMA]))
    run = subprocess.run(
        [sys.executable, "-m", "reconciler", "watch", str(folder), "--selector", "shard=typo"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 1
    assert "--selector shard=typo matches no instance" in run.stderr
