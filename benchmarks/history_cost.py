"""What recording the fleet's history costs: watch CPU, and the size of the state database.

1. CPU: one `orc watch` cycle is a probe round through the reconcile pipeline's observe step
   (`Reconciler.plan`) followed by the `/status` figures brought up to date (`FigureFeed`). The
   cycle runs against 100 and 1,000 simulated servers in process (httpx's ASGI transport, so
   the servers' own CPU is counted too: the *difference* is the history's cost), with the
   history on and off, on the same state directory. Printed: CPU seconds per cycle, and what the
   history adds as a share of one core when the cycle repeats every 10 s.
2. Size: 30 days of probes of 100 instances every 30 s (8.64 million rows: mostly healthy, 1%
   failures with a reason and a message), written a round per transaction as watch writes them,
   then the size of `state.db` (and its WAL) on disk.

Run: `python benchmarks/history_cost.py` (a few minutes; `--instances 100`, `--cycles 3` and
`--days 2` make it shorter; the size is then also given per day).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from reconciler.desired import DesiredFleet, DesiredInstance, DesiredModel
from reconciler.names import parse
from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.reconcile import Reconciler
from reconciler.state import FigureFeed, ProbeRecord, StateDir
from reconciler.testing import SimInstanceConfig, SimServer

MODEL = "llama3.2:3b"
INTERVAL = 10.0


def fleet(count: int) -> tuple[DesiredFleet, dict[str, SimServer]]:
    names = [f"sim-{n}" for n in range(1, count + 1)]
    servers = {n: SimServer(SimInstanceConfig(n, models=(MODEL,))) for n in names}
    instances = tuple(
        DesiredInstance(name=n, url=f"http://{n}.sim.test", models=(DesiredModel(parse(MODEL)),))
        for n in names
    )
    return DesiredFleet(instances=instances), servers


async def cycles(count: int, rounds: int, history: bool, folder: Path) -> float:
    """CPU seconds per watch cycle (probe round + figures), after one warm-up cycle."""
    desired, servers = fleet(count)

    def client(config: ClientConfig) -> OllamaClient:
        app = servers[config.instance].app
        return OllamaClient(config, transport=httpx.ASGITransport(app=app))

    feed = FigureFeed()
    with StateDir(folder) as state:
        reconciler = Reconciler(state=state, client_factory=client, env={}, history=history)
        spent = []
        for n in range(rounds + 1):
            started = time.process_time()
            await reconciler.plan(desired)
            if history:
                state.figures(feed, datetime.now(UTC))
            if n:
                spent.append(time.process_time() - started)
    return sum(spent) / len(spent)


def cpu(sizes: list[int], rounds: int) -> None:
    print(f"Watch CPU per cycle (probe round + /status figures), mean of {rounds} cycles:")
    print(f"{'instances':>10} {'without':>10} {'with':>10} {'added':>10} {'of a core @10s':>16}")
    for count in sizes:
        with tempfile.TemporaryDirectory() as folder:
            without = asyncio.run(cycles(count, rounds, False, Path(folder) / "off"))
            with_history = asyncio.run(cycles(count, rounds, True, Path(folder) / "on"))
        added = with_history - without
        share = 100 * added / INTERVAL
        print(
            f"{count:>10} {without:>9.3f}s {with_history:>9.3f}s {added * 1000:>8.1f}ms"
            f" {share:>15.2f}%"
        )


def size(days: float, instances: int, every: float) -> None:
    rounds = int(days * 86400 / every)
    rng = random.Random(7)
    start_ms = int(time.time() * 1000) - int(days * 86400_000)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        with StateDir(folder) as state:
            for n in range(rounds):
                at = start_ms + int(n * every * 1000)
                batch = []
                for i in range(instances):
                    if rng.random() < 0.01:
                        batch.append(
                            ProbeRecord(at, f"gpu-{i}", "Unreachable", False, None, None,
                                        "Timeout", "no reply within 10s")
                        )  # fmt: skip
                    else:
                        latency = round(rng.lognormvariate(3.0, 0.4), 1)
                        batch.append(
                            ProbeRecord(at, f"gpu-{i}", "Healthy", True, latency, "0.12.6")
                        )
                state.record_probes(batch)
        seconds = time.perf_counter() - started
        files = [Path(folder) / name for name in ("state.db", "state.db-wal")]
        total = sum(f.stat().st_size for f in files if f.exists())
    rows = rounds * instances
    print(
        f"State database after {days:g} days of {instances} instances every {every:g}s:"
        f" {rows:,} probes, {total / 1e6:.1f} MB ({total / rows:.0f} bytes a probe,"
        f" {total / 1e6 / days:.1f} MB a day); written in {seconds:.0f}s"
        f" ({seconds / rounds * 1000:.2f} ms a round)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--skip-size", action="store_true")
    args = parser.parse_args()
    print(f"python {os.sys.version.split()[0]}, {os.cpu_count()} CPUs")
    cpu(args.instances, args.cycles)
    if not args.skip_size:
        size(args.days, 100, 30.0)


if __name__ == "__main__":
    main()
