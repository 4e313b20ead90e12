"""How fast `orc watch` reacts to an edit, and what it costs when there is nothing to do.

The targets are a median reaction under 1 s and idle CPU under 5% of one core.

1. Reaction: one simulated server, `orc watch --log-format json` as a subprocess. Twenty edits
   each ask for a change (a small model alternately declared present and absent); the time from
   just before the write to the `ts` of the `apply.started` log line is measured. The default
   debounce (300 ms) is part of it, on purpose: it is what an operator gets.
2. Idle CPU: 100 simulated servers whose manifests already match, `--interval 10s`; after the
   first reconcile, the daemon's user+system CPU (from /proc/PID/stat) over 60 s.

Run: `python benchmarks/watch_reaction.py` (about 90 s; `--edits`, `--idle-seconds` and
`--instances` make it shorter).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler.testing import BackgroundFleet, SimInstanceConfig

BASE, TOGGLED = "llama3.2:3b", "smollm2:135m"
REACTION_TARGET, CPU_TARGET = 1.0, 5.0


def instance(name: str, url: str, models: list[str], absent: tuple[str, ...] = ()) -> str:
    lines = [
        "---",
        "apiVersion: ollama-reconciler/v1",
        "kind: OllamaInstance",
        f"metadata: {{name: {name}}}",
        "spec:",
        f"  url: {url}",
        "  models:",
    ]
    lines += [f'    - name: "{m}"' for m in models]
    lines += [f'    - {{name: "{m}", state: absent}}' for m in absent]
    return "\n".join(lines) + "\n"


class Daemon:
    """`orc watch` with JSON logs, its events collected by a reader thread."""

    def __init__(self, folder: Path, state: Path, *flags: str) -> None:
        command = [
            sys.executable,
            "-m",
            "reconciler",
            "watch",
            str(folder),
            "--log-format",
            "json",
            "--state-dir",
            str(state),
            *flags,
        ]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                print(f"  (log) {line.rstrip()}", file=sys.stderr)

    def count(self, event: str) -> int:
        return sum(1 for e in list(self.events) if e["event"] == event)

    def wait(self, event: str, count: int, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in list(self.events) if e["event"] == event]
            if len(found) >= count:
                return found[count - 1]
            if self.process.poll() is not None:
                raise SystemExit(f"orc watch exited with {self.process.returncode}")
            time.sleep(0.01)
        raise SystemExit(f"timed out waiting for {event} #{count}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
        return (utime + stime) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=15)


def _timestamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


def reaction(edits: int, workdir: Path) -> list[float]:
    """Seconds from each write to the start of its apply."""
    with BackgroundFleet([SimInstanceConfig("bench", models=(BASE,))]) as fleet:
        folder = workdir / "reaction"
        folder.mkdir()
        target = folder / "bench.yaml"
        url = fleet.url("bench")
        target.write_text(instance("bench", url, [BASE]))
        daemon = Daemon(folder, workdir / ".orc-reaction", "--interval", "5m")
        try:
            daemon.wait("reconcile.finished", 1)
            times = []
            for edit in range(edits):
                declared = instance(
                    "bench",
                    url,
                    [BASE, TOGGLED] if edit % 2 == 0 else [BASE],
                    absent=() if edit % 2 == 0 else (TOGGLED,),
                )
                applies = daemon.count("apply.started")
                finished = daemon.count("reconcile.finished")
                written = time.time()
                target.write_text(declared)
                started = daemon.wait("apply.started", applies + 1)
                times.append(_timestamp(started) - written)
                daemon.wait("reconcile.finished", finished + 1)
                time.sleep(0.2)
        finally:
            daemon.stop()
    return times


def idle_cpu(instances: int, seconds: float, workdir: Path) -> tuple[float, int]:
    """Percent of one core used by an idle daemon over `seconds`, and the reconciles it made."""
    configs = [SimInstanceConfig(f"node-{n:03d}", models=(BASE, TOGGLED)) for n in range(instances)]
    with BackgroundFleet(configs) as fleet:
        folder = workdir / "idle"
        folder.mkdir()
        text = "".join(instance(c.name, fleet.url(c.name), [BASE, TOGGLED]) for c in configs)
        (folder / "fleet.yaml").write_text(text)
        daemon = Daemon(folder, workdir / ".orc-idle", "--interval", "10s")
        try:
            first = daemon.wait("reconcile.finished", 1)
            if first["result"] != "synced":
                raise SystemExit(f"the idle fleet is not in sync: {first}")
            before, cycles = daemon.cpu_seconds(), daemon.count("reconcile.finished")
            time.sleep(seconds)
            used = daemon.cpu_seconds() - before
            cycles = daemon.count("reconcile.finished") - cycles
        finally:
            daemon.stop()
    return 100.0 * used / seconds, cycles


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--instances", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="orc-watch-bench-") as tmp:
        times = reaction(args.edits, Path(tmp))
        median, worst = statistics.median(times), max(times)
        print(
            f"Reaction, manifest write -> apply started, over {len(times)} edits "
            f"(debounce 300 ms included):"
        )
        print(
            f"  median {median * 1000:.0f} ms, worst {worst * 1000:.0f} ms, "
            f"best {min(times) * 1000:.0f} ms  [target median < {REACTION_TARGET:g} s: "
            f"{verdict(median < REACTION_TARGET)}]"
        )
        percent, cycles = idle_cpu(args.instances, args.idle_seconds, Path(tmp))
        print(
            f"Idle CPU of orc watch, {args.instances} simulated instances, --interval 10s, "
            f"over {args.idle_seconds:g} s ({cycles} reconciles):"
        )
        print(
            f"  {percent:.2f}% of one core  [target < {CPU_TARGET:g}%: "
            f"{verdict(percent < CPU_TARGET)}]"
        )
    return 0 if median < REACTION_TARGET and percent < CPU_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
