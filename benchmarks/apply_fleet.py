"""Time `orc apply` on 50 simulated instances, 5 pulls each, against the ideal wall time.

The target is within 1.3x of the ideal. The fleet is `orc sim -n 50` in its own process (so
the simulator's CPU does not count against orc's); its manifests are edited to declare 5 more
catalog models per instance, of known sizes. Within one instance pulls run one at a time, so
the ideal is the slowest instance's pulls back to back: the sum of its sizes / the pull speed.

`orc apply DIR --yes --format json` runs as a subprocess, timed from start to exit (planning,
pulls, re-observation, interpreter start-up). The JSON events also give the pull phase alone
(first action started to last action finished). It runs twice on a fresh simulator each time:
with `--parallelism 50` (every instance at once, explicitly) and with the default parallelism
(every instance at once too, bounded by 64 requests in flight); both must be within the target.

Run: `python benchmarks/apply_fleet.py [--instances 50] [--speed-gb 3]`.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from reconciler.testing import CATALOG
from reconciler.testing.runner import STARTER_SETS

TARGET = 1.3
# Catalog models in no starter set, so every one of them is a real pull on every instance.
POOL = (
    "llama3.2:1b",
    "gemma3:4b",
    "codellama:7b",
    "mistral:7b",
    "qwen2.5vl:7b",
    "qwen2.5-coder:7b",
)
PULLS = 5


@dataclass(frozen=True)
class Run:
    """One timed `orc apply`."""

    label: str
    wall: float
    before: float  # start-up, loading, planning: until the first action started
    pulls_phase: float  # first action started .. last action finished
    after: float  # verifying (re-observing) and exiting
    exit_code: int
    pulled: int


def extra_models(index: int) -> list[str]:
    """The 5 models instance `index` (0-based) must pull: the pool minus one, in turn."""
    models = [m for i, m in enumerate(POOL) if i != index % len(POOL)]
    assert not set(models) & set(STARTER_SETS[index % len(STARTER_SETS)])
    return models[:PULLS]


def ideal_seconds(instances: int, speed: float) -> tuple[float, int]:
    """The slowest instance's pulls back to back, and that instance's bytes."""
    worst = max(sum(CATALOG[m].size for m in extra_models(i)) for i in range(instances))
    return worst / speed, worst


def start_sim(instances: int, speed: float, folder: Path) -> subprocess.Popen[str]:
    """`orc sim` with manifests written to `folder`; returns once every server answers."""
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "sim",
            "--instances",
            str(instances),
            "--pull-speed",
            f"{speed:.0f}B/s",
            "--write-manifests",
            str(folder),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert sim.stdout is not None
    for line in sim.stdout:
        if line.startswith("URLs:"):
            return sim
    raise SystemExit(f"orc sim did not start (exit {sim.wait()})")


def stop_sim(sim: subprocess.Popen[str]) -> None:
    sim.send_signal(signal.SIGINT)
    try:
        sim.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        sim.kill()
        sim.communicate()


def declare_extra_models(folder: Path, instances: int) -> None:
    """Add the 5 extra models to each `sim-N.yaml` written by `orc sim`."""
    for index in range(instances):
        path = folder / f"sim-{index + 1}.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["spec"]["models"] += [{"name": m} for m in extra_models(index)]
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def timed_apply(label: str, folder: Path, state: Path, parallelism: int | None) -> Run:
    args = [sys.executable, "-m", "reconciler", "apply", str(folder), "--yes"]
    args += ["--format", "json", "--state-dir", str(state)]
    if parallelism is not None:
        args += ["--parallelism", str(parallelism)]
    began, began_epoch = time.monotonic(), time.time()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    wall = time.monotonic() - began
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    stamps = [
        datetime.fromisoformat(e["time"]).timestamp()
        for e in events
        if e["type"] in {"action_started", "action_finished"}
    ]
    pulled = sum(1 for e in events if e["type"] == "action_finished" and e["outcome"] == "done")
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
    if not stamps:
        return Run(label, wall, wall, 0.0, 0.0, done.returncode, pulled)
    before = min(stamps) - began_epoch
    phase = max(stamps) - min(stamps)
    return Run(label, wall, before, phase, wall - before - phase, done.returncode, pulled)


def measure(instances: int, speed: float, parallelism: int | None, label: str) -> Run:
    """A fresh simulator, the manifests edited, one timed apply."""
    with tempfile.TemporaryDirectory(prefix="orc-bench-apply-") as tmp:
        folder = Path(tmp) / "manifests"
        sim = start_sim(instances, speed, folder)
        try:
            declare_extra_models(folder, instances)
            return timed_apply(label, folder, Path(tmp) / "state", parallelism)
        finally:
            stop_sim(sim)


def report(run: Run, ideal: float, expected_pulls: int) -> None:
    ok = "ok" if run.wall <= TARGET * ideal else "MISSED"
    print(
        f"{run.label}: wall {run.wall:.2f} s, ratio {run.wall / ideal:.2f}x ({ok}); "
        f"exit {run.exit_code}, {run.pulled}/{expected_pulls} pulled"
    )
    print(
        f"    start-up + plan {run.before:.2f} s | pulls {run.pulls_phase:.2f} s "
        f"(ratio {run.pulls_phase / ideal:.2f}x) | verify + exit {run.after:.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--speed-gb", type=float, default=3.0, help="simulated GB/s per pull")
    parser.add_argument("--skip-default", action="store_true", help="only --parallelism N")
    options = parser.parse_args()
    n, speed = options.instances, options.speed_gb * 1e9
    ideal, worst = ideal_seconds(n, speed)
    print(
        f"{n} simulated instances (orc sim, one separate process), {PULLS} pulls each, "
        f"{options.speed_gb:g} GB/s per pull."
    )
    print(
        f"Ideal: slowest instance's pulls back to back = {worst / 1e9:.2f} GB / "
        f"{options.speed_gb:g} GB/s = {ideal:.2f} s. Target: wall <= {TARGET}x ideal "
        f"= {TARGET * ideal:.2f} s."
    )
    runs = [measure(n, speed, n, f"--parallelism {n}")]
    if not options.skip_default:
        runs.append(measure(n, speed, None, "default parallelism"))
    for run in runs:
        report(run, ideal, n * PULLS)
    met = all(run.wall <= TARGET * ideal and run.exit_code == 0 for run in runs)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
