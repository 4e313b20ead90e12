"""Time `orc plan` on a simulated fleet of 200 instances × 30 models, against plain scripts.

The targets: a warm plan (show cache filled) makes at most 3 requests per instance and takes
under 2 s of wall time including start-up; cold and warm plans must both beat (a), a
straightforward script with the official `ollama.AsyncClient` and `asyncio.gather` over list and
show for every model of every instance. (b) is the same script done sequentially.

The fleet (every instance with the same models, each request delayed by `--latency`) runs on
real loopback sockets in a separate process; this process asks it for its request counters
through a pipe. `orc plan` runs as `python -m reconciler plan DIR --state-dir X`, so its times
include interpreter start-up and imports; the scripts run in this process (start-up not counted,
which favours them). Run: `python benchmarks/plan_fleet.py [--instances 200] [--models 30]
[--latency 0.02] [--sample 10] [--profile FILE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import ollama

from reconciler import names
from reconciler.testing import CATALOG, ModelSpec, SimFleet, SimInstanceConfig

WARM_LIMIT_SECONDS = 2.0
WARM_LIMIT_REQUESTS = 3.0


@dataclasses.dataclass(frozen=True)
class Settings:
    """The benchmark's knobs (see `--help`)."""

    instances: int
    models: int
    latency: float
    sample: int
    repeat: int
    profile: Path | None


@dataclasses.dataclass(frozen=True)
class Figures:
    """One measured run: wall time and the requests the fleet received."""

    label: str
    seconds: float
    requests: int
    busiest: int  # requests of the busiest instance
    instances: int
    note: str = ""

    @property
    def per_instance(self) -> float:
        """Average requests per instance."""
        return self.requests / self.instances


# -- the fleet, in its own process ---------------------------------------------------------------


def bench_models(count: int) -> list[tuple[str, ModelSpec]]:
    """`count` models: the catalog's distinct ones, then deterministic extras if it has fewer."""
    chosen: dict[str, tuple[str, ModelSpec]] = {}
    for name, spec in CATALOG.items():
        chosen.setdefault(spec.digest, (name, spec))
    picked = list(chosen.values())[:count]
    base = picked[0][1]
    for index in range(count - len(picked)):
        spec = dataclasses.replace(base, weights_seed=f"bench-extra-{index}")
        picked.append((f"bench-extra-{index}:7b", spec))
    return picked


def serve(settings: Settings, control: Connection) -> None:
    """The fleet process: start the fleet, send its URLs, answer counter requests until 'stop'."""
    asyncio.run(_serve(settings, control))


async def _serve(settings: Settings, control: Connection) -> None:
    configs = [
        SimInstanceConfig(name=f"node-{n:03d}", latency=settings.latency)
        for n in range(settings.instances)
    ]
    models = bench_models(settings.models)
    async with SimFleet(configs) as fleet:
        for name in fleet:
            server = fleet[name]
            for model, spec in models:
                server.registry.add(model, spec)
                server.state.install(names.parse(model), spec)
        control.send({name: fleet.url(name) for name in fleet})
        loop = asyncio.get_running_loop()
        while (command := await loop.run_in_executor(None, control.recv)) != "stop":
            control.send(_answer(fleet, command))


def _answer(fleet: SimFleet, command: str) -> dict[str, int]:
    logs = [fleet[name].state.requests for name in fleet]
    if command == "reset":
        for log in logs:
            log.clear()
    return {"total": sum(len(log) for log in logs), "busiest": max(len(log) for log in logs)}


# -- manifests -----------------------------------------------------------------------------------


def write_manifests(
    folder: Path, urls: dict[str, str], models: list[str], keep: bool = False
) -> None:
    """One ModelSet with every model for every instance (the first one kept loaded with
    `keep`), and one OllamaInstance per server."""
    listed = ", ".join(
        f'{{name: "{m}"{", keepLoaded: true" if keep and i == 0 else ""}}}'
        for i, m in enumerate(models)
    )
    (folder / "models.yaml").write_text(
        "apiVersion: ollama-reconciler/v1\nkind: ModelSet\nmetadata: {name: bench}\n"
        f'spec:\n  selector: {{matchLabels: {{bench: "yes"}}}}\n  models: [{listed}]\n'
    )
    documents = [
        "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\n"
        f'metadata: {{name: {name}, labels: {{bench: "yes"}}}}\nspec: {{url: "{url}"}}\n'
        for name, url in urls.items()
    ]
    (folder / "instances.yaml").write_text("---\n".join(documents))


# -- measurements --------------------------------------------------------------------------------


class Fleet:
    """This side of the pipe to the fleet process."""

    def __init__(self, control: Connection, urls: dict[str, str]) -> None:
        self.control = control
        self.urls = urls

    def counters(self, command: str) -> dict[str, int]:
        """`reset` (then counts are zero) or `counts`."""
        self.control.send(command)
        reply: dict[str, int] = self.control.recv()
        return reply

    def measure(self, label: str, work: Callable[[], str], instances: int) -> Figures:
        """Time `work()` and read how many requests it cost; `work` returns a note."""
        self.counters("reset")
        started = time.perf_counter()
        note = work()
        seconds = time.perf_counter() - started
        counts = self.counters("counts")
        return Figures(label, seconds, counts["total"], counts["busiest"], instances, note)


def orc_plan(folder: Path, state: Path, prefix: list[str] | None = None) -> Callable[[], str]:
    """`python -m reconciler plan folder --state-dir state`, which must exit 0 (no changes)."""

    def work() -> str:
        command = [*(prefix or [sys.executable]), "-m", "reconciler", "plan", str(folder)]
        done = subprocess.run(
            [*command, "--state-dir", str(state), "--detailed-exitcode"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"orc plan exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return ""

    return work


async def _one_instance(client: ollama.AsyncClient, sequential: bool) -> int:
    """List, then show every model; returns how many shows failed (and were asked again)."""
    listed = await client.list()
    models = [m.model for m in listed.models if m.model]
    if sequential:
        for model in models:
            await client.show(model)
        return 0
    results = await asyncio.gather(*(client.show(m) for m in models), return_exceptions=True)
    failed = [m for m, result in zip(models, results, strict=True) if isinstance(result, Exception)]
    for model in failed:
        await client.show(model)
    return len(failed)


async def official_gather(urls: list[str]) -> str:
    """(a): every instance and every model at once.

    Under this load the script's own event loop lags so far behind that uvicorn closes some idle
    keep-alive connections (after 5 s) before the first show reuses them: `httpx.ReadError`.
    Those shows are asked again, and counted in the note.
    """
    clients = [ollama.AsyncClient(host=url) for url in urls]
    failed = await asyncio.gather(*(_one_instance(c, sequential=False) for c in clients))
    return f"{sum(failed)} shows failed (ReadError) and were retried" if sum(failed) else ""


async def official_sequential(urls: list[str]) -> str:
    """(b): one instance after another, one model after another."""
    for url in urls:
        await _one_instance(ollama.AsyncClient(host=url), sequential=True)
    return ""


def run_async(make: Callable[[], Coroutine[Any, Any, str]]) -> Callable[[], str]:
    """`work()` that runs one coroutine to completion."""
    return lambda: asyncio.run(make())


def startup_seconds() -> float:
    """Wall time of `python -m reconciler --version`: interpreter start-up and the CLI import."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "reconciler", "--version"], capture_output=True, check=True
    )
    return time.perf_counter() - started


# -- the report ----------------------------------------------------------------------------------


def print_table(rows: list[Figures]) -> None:
    """One line per run: wall time, total requests, requests per instance."""
    print(f"{'run':<44} {'wall':>8} {'requests':>9} {'req/inst':>9} {'busiest':>8}")
    for row in rows:
        print(
            f"{row.label:<44} {row.seconds:>7.2f}s {row.requests:>9} {row.per_instance:>9.2f} "
            f"{row.busiest:>8}" + (f"  {row.note}" if row.note else "")
        )


def print_verdict(cold: Figures, warm: Figures, gather: Figures, sequential: Figures) -> bool:
    """Ratios and the issue's targets; True when every target is met."""
    print("\nratios (time of the other / time of orc; >1 means orc is faster):")
    for plan in (cold, warm):
        print(
            f"  {plan.label:<22} vs (a) {gather.seconds / plan.seconds:6.1f}x   "
            f"vs (b) {sequential.seconds / plan.seconds:7.1f}x   "
            f"requests vs (a) {plan.requests / gather.requests:.3f}"
        )
    checks = {
        f"warm plan <= {WARM_LIMIT_REQUESTS:g} requests/instance "
        f"({warm.per_instance:.2f})": warm.per_instance <= WARM_LIMIT_REQUESTS,
        f"warm plan < {WARM_LIMIT_SECONDS:g} s with start-up ({warm.seconds:.2f} s)": (
            warm.seconds < WARM_LIMIT_SECONDS
        ),
        f"cold plan beats (a) ({cold.seconds:.2f} s < {gather.seconds:.2f} s)": (
            cold.seconds < gather.seconds
        ),
        f"warm plan beats (a) ({warm.seconds:.2f} s < {gather.seconds:.2f} s)": (
            warm.seconds < gather.seconds
        ),
    }
    print("\ntargets:")
    for label, met in checks.items():
        print(f"  [{'ok' if met else 'MISSED'}] {label}")
    return all(checks.values())


def profile_warm(folder: Path, state: Path, output: Path) -> None:
    """Run one more warm plan under cProfile and print where the time goes."""
    orc_plan(folder, state, [sys.executable, "-m", "cProfile", "-o", str(output)])()
    print(f"\ncProfile of a warm plan (saved to {output}), by cumulative time:")
    stats = pstats.Stats(str(output)).sort_stats("cumulative")
    stats.print_stats(r"reconciler/(probe|plan|ollama/(client|session|transport))|ssl|names", 20)


# -- main ----------------------------------------------------------------------------------------


def parse(argv: list[str] | None = None) -> Settings:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added per request")
    parser.add_argument("--sample", type=int, default=10, help="instances timed for (b)")
    parser.add_argument("--repeat", type=int, default=3, help="warm plans to run (median shown)")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile a warm plan here")
    args = parser.parse_args(argv)
    return Settings(**vars(args))


def measure_all(settings: Settings, fleet: Fleet, folder: Path, state: Path) -> list[Figures]:
    """Cold plan, warm plans, (a) and (b), in that order."""
    n = settings.instances
    urls = list(fleet.urls.values())
    cold = fleet.measure("orc plan, cold (empty state dir)", orc_plan(folder, state), n)
    warms = [
        fleet.measure("orc plan, warm", orc_plan(folder, state), n) for _ in range(settings.repeat)
    ]
    warm = sorted(warms, key=lambda f: f.seconds)[len(warms) // 2]
    spread = ", ".join(f"{w.seconds:.2f}" for w in warms)
    warm = dataclasses.replace(warm, label="orc plan, warm (median)", note=f"runs: {spread} s")
    gather = fleet.measure(
        "(a) ollama.AsyncClient + gather (no cache)", run_async(lambda: official_gather(urls)), n
    )
    sample = urls[: settings.sample]
    sequential = fleet.measure(
        "(b) sequential", run_async(lambda: official_sequential(sample)), len(sample)
    )
    if len(sample) < n:
        factor = n / len(sample)
        sequential = dataclasses.replace(
            sequential,
            label=f"(b) sequential (extrapolated from {len(sample)})",
            seconds=sequential.seconds * factor,
            requests=round(sequential.requests * factor),
            instances=n,
            note=f"measured {sequential.seconds:.2f} s on {len(sample)} instances, x{factor:g}",
        )
    return [cold, warm, gather, sequential]


def main(argv: list[str] | None = None) -> int:
    """Start the fleet process, measure, print; exit 1 when a target is missed."""
    settings = parse(argv)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=serve, args=(settings, theirs), name="sim-fleet")
    started = time.perf_counter()
    process.start()
    try:
        fleet = Fleet(ours, ours.recv())
        extra = sum(1 for m, _ in bench_models(settings.models) if m.startswith("bench-extra-"))
        print(
            f"fleet: {settings.instances} instances x {settings.models} models "
            f"({settings.models - extra} from the catalog, {extra} extra), "
            f"{settings.latency * 1000:g} ms added per request, pid {process.pid}, "
            f"up in {time.perf_counter() - started:.1f} s"
        )
        print(f"start-up of `python -m reconciler --version`: {startup_seconds():.2f} s\n")
        with tempfile.TemporaryDirectory(prefix="orc-bench-") as tmp:
            folder, state = Path(tmp) / "manifests", Path(tmp) / "state"
            folder.mkdir()
            write_manifests(folder, fleet.urls, [m for m, _ in bench_models(settings.models)])
            rows = measure_all(settings, fleet, folder, state)
            print_table(rows)
            met = print_verdict(*rows)
            if settings.profile is not None:
                profile_warm(folder, state, settings.profile)
    finally:
        ours.send("stop")
        process.join(timeout=30)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
