"""Warm `orc plan` against the raw-socket floor (`floor.py`), side by side, for two fleet shapes.

The floor is the least one probe round can cost: a standard-library asyncio client, one
keep-alive connection per instance, asking every instance for the same replies a warm plan needs
(`/api/version` and `/api/tags`; `/api/ps` too when `--keep-loaded` makes the plan need it), in
its own process so that start-up counts on both sides. For each shape the simulated fleet (every
instance with the same models, each request delayed by `--latency`) runs in a separate process,
orc's show cache is filled by one cold plan, then floor and warm plan alternate `--repeat` times;
the table shows medians, and the ratio is orc's median over the floor's. The machine is shared,
so only ratios measured in one run mean anything.

Children run with Python's default of caching compiled modules (`PYTHONDONTWRITEBYTECODE` is
removed from their environment), and the cold plan and one unmeasured run of each start-up
command fill that cache first.

A third side puts the floor in perspective: the same floor run in a process that first imports
the libraries a plan cannot do without (asyncio, click, PyYAML, pydantic with one list validated,
and httpx as orc imports it, `reconciler.ollama._httpx`). What it adds to the floor is what any
client on these libraries pays before its first request; the rest of orc's time is its own.

Also shown: the requests per instance of both (the fleet counts them), the peak RSS of the plan
process (`os.wait4`), and the wall times of `orc --help` and `orc validate` of one small file
against a bare `python -c pass` and a script that imports click, PyYAML and pydantic and
validates one tiny model (what any validator on those libraries pays).

Run: `python benchmarks/plan_floor.py [--shapes 200x30,1000x10] [--latency 0.02] [--repeat 5]
[--keep-loaded]`. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from plan_fleet import Fleet, Settings, bench_models, serve, write_manifests

RATIO_TARGET = 2.0
WARM_1000_SECONDS = 2.0
START_SECONDS = 0.2
RSS_LIMIT_MB = 250.0
HERE = Path(__file__).resolve().parent


LIBRARIES = "import click, yaml, pydantic; one tiny model"
LIBRARIES_SCRIPT = (
    "import click, yaml, pydantic\n"
    "class One(pydantic.BaseModel):\n    name: str\n"
    "One.model_validate(yaml.safe_load('name: one'))\n"
)
"""What any validator built on orc's libraries pays before reading a manifest."""

FLOOR_AFTER_LIBRARIES = (
    "import runpy, sys\n"
    "import asyncio, click, yaml\n"
    "import reconciler.ollama._httpx\n"
    "from pydantic import BaseModel, TypeAdapter\n"
    "class One(BaseModel):\n    name: str\n"
    "TypeAdapter(list[One]).validate_python([{'name': 'one'}])\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)
"""The floor, run after importing the libraries a plan needs (`python -c` this, floor.py, its
arguments)."""


@dataclasses.dataclass(frozen=True)
class Timed:
    """One run of a child process: wall time, peak RSS, requests the fleet received."""

    seconds: float
    rss_mb: float
    requests: int


@dataclasses.dataclass(frozen=True)
class Shape:
    """One fleet shape's medians."""

    instances: int
    models: int
    floor: list[Timed]
    orc: list[Timed]
    floor_after_libraries: list[Timed]

    @property
    def floor_s(self) -> float:
        return statistics.median(t.seconds for t in self.floor)

    @property
    def floor_after_libraries_s(self) -> float:
        return statistics.median(t.seconds for t in self.floor_after_libraries)

    @property
    def orc_s(self) -> float:
        return statistics.median(t.seconds for t in self.orc)

    @property
    def ratio(self) -> float:
        return self.orc_s / self.floor_s

    @property
    def rss_mb(self) -> float:
        return max(t.rss_mb for t in self.orc)


CHILD_ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""Children cache compiled modules, as Python does by default: a machine that says otherwise
would time the compilation of every module of `orc` (not of the one-file floor) in every run."""


def run_child(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process, which must exit 0."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=CHILD_ENVIRONMENT
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    out, err = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"{command[:4]} exited {child.returncode}:\n{out.decode()}{err.decode()}")
    return seconds, usage.ru_maxrss / 1024  # kilobytes on Linux


def timed(fleet: Fleet, command: list[str]) -> Timed:
    fleet.counters("reset")
    seconds, rss = run_child(command)
    return Timed(seconds, rss, fleet.counters("counts")["total"])


def measure_shape(instances: int, models: int, options: argparse.Namespace) -> Shape:
    """Start the fleet, one cold plan, then floor and warm plan alternately."""
    settings = Settings(instances, models, options.latency, 0, options.repeat, None)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=serve, args=(settings, theirs), name="sim-fleet")
    process.start()
    try:
        fleet = Fleet(ours, ours.recv())
        with tempfile.TemporaryDirectory(prefix="orc-bench-floor-") as tmp:
            folder, state = Path(tmp) / "manifests", Path(tmp) / "state"
            folder.mkdir()
            names = [m for m, _ in bench_models(models)]
            write_manifests(folder, fleet.urls, names, options.keep_loaded)
            urls = Path(tmp) / "urls.txt"
            urls.write_text("\n".join(fleet.urls.values()) + "\n")
            paths = ["/api/version", "/api/tags"] + (["/api/ps"] if options.keep_loaded else [])
            floor = [sys.executable, str(HERE / "floor.py"), str(urls)]
            floor += [arg for path in paths for arg in ("--path", path)]
            libraries_first = [sys.executable, "-c", FLOOR_AFTER_LIBRARIES, *floor[1:]]
            plan = [sys.executable, "-m", "reconciler", "plan", str(folder)]
            plan += ["--state-dir", str(state), "--no-color"]
            timed(fleet, plan)  # cold: fills the show cache
            timed(fleet, libraries_first)  # unmeasured: compiled modules cached
            floors, orcs, afters = [], [], []
            for _ in range(options.repeat):
                floors.append(timed(fleet, floor))
                orcs.append(timed(fleet, plan))
                afters.append(timed(fleet, libraries_first))
            return Shape(instances, models, floors, orcs, afters)
    finally:
        ours.send("stop")
        process.join(timeout=60)


def startup(repeat: int) -> dict[str, float]:
    """Median wall times of a bare interpreter, `orc --help` and `orc validate` of one file."""
    with tempfile.TemporaryDirectory(prefix="orc-bench-start-") as tmp:
        small = Path(tmp) / "one.yaml"
        small.write_text(
            "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\n"
            "metadata: {name: one}\nspec:\n  url: http://127.0.0.1:11434\n"
            "  models: [{name: llama3.2:3b, keepLoaded: true}]\n"
        )
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            LIBRARIES: [sys.executable, "-c", LIBRARIES_SCRIPT],
            "orc --help": [sys.executable, "-m", "reconciler", "--help"],
            "orc validate one.yaml": [sys.executable, "-m", "reconciler", "validate", str(small)],
        }
        times: dict[str, list[float]] = {label: [] for label in commands}
        for command in commands.values():
            run_child(command)  # warm-up: compiled modules cached, files in the page cache
        for _ in range(repeat):
            for label, command in commands.items():
                times[label].append(run_child(command)[0])
    return {label: statistics.median(values) for label, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="200x30,1000x10", help="INSTANCESxMODELS,...")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added per request")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each side (medians)")
    parser.add_argument("--keep-loaded", action="store_true", help="declare one keepLoaded model")
    options = parser.parse_args(argv)
    shapes = [tuple(int(n) for n in s.split("x")) for s in options.shapes.split(",")]
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"{options.latency * 1000:g} ms per request; {options.repeat} runs each, medians"
    )
    results = [measure_shape(n, m, options) for n, m in shapes]
    starts = startup(options.repeat)
    print(
        f"\n| fleet (warm plan, {options.latency * 1000:g} ms per request) | raw-socket floor "
        "| `orc plan` | ratio | requests/instance (floor, orc) | plan peak RSS "
        "| floor after importing the libraries (ratio to floor) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        per = f"{r.floor[0].requests / r.instances:g}, {r.orc[0].requests / r.instances:g}"
        after = r.floor_after_libraries_s
        print(
            f"| {r.instances:,} instances × {r.models} models | {r.floor_s:.2f} s "
            f"| {r.orc_s:.2f} s | {r.ratio:.2f}× | {per} | {r.rss_mb:.0f} MB "
            f"| {after:.2f} s ({after / r.floor_s:.2f}×) |"
        )
    for r in results:
        floors = ", ".join(f"{t.seconds:.2f}" for t in r.floor)
        orcs = ", ".join(f"{t.seconds:.2f}" for t in r.orc)
        afters = ", ".join(f"{t.seconds:.2f}" for t in r.floor_after_libraries)
        print(
            f"  {r.instances}x{r.models} runs: floor [{floors}] s, orc plan [{orcs}] s, "
            f"floor after libraries [{afters}] s"
        )
    bare = starts["python -c pass"]
    print("\n| command | wall (median) | over `python -c pass` |\n|---|---|---|")
    for label, seconds in starts.items():
        print(f"| `{label}` | {seconds:.3f} s | +{seconds - bare:.3f} s |")
    checks = {
        f"{r.instances}x{r.models}: warm plan within {RATIO_TARGET:g}x the floor "
        f"({r.ratio:.2f}x)": r.ratio <= RATIO_TARGET
        for r in results
    }
    for r in results:
        if r.instances >= 1000:
            checks[
                f"{r.instances} instances: warm plan under {WARM_1000_SECONDS:g} s "
                f"({r.orc_s:.2f} s)"
            ] = r.orc_s < WARM_1000_SECONDS
            checks[
                f"{r.instances} instances: peak RSS under {RSS_LIMIT_MB:g} MB ({r.rss_mb:.0f} MB)"
            ] = r.rss_mb < RSS_LIMIT_MB
    for label in ("orc --help", "orc validate one.yaml"):
        checks[f"`{label}` under {START_SECONDS:g} s ({starts[label]:.3f} s)"] = (
            starts[label] < START_SECONDS
        )
    print("\ntargets:")
    for label, met in checks.items():
        print(f"  [{'ok' if met else 'MISSED'}] {label}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
