"""How `Fleet` spreads concurrent chats, and what a chat costs, old policy against new.

1. Balance: 200 concurrent chats over three simulated instances of priority 1 (token rates 50, 50
   and 25 tokens/s, `parallel` generation slots each, a deep queue like Ollama's) and one instance
   of priority 2. Each reply is `--tokens` tokens. Printed per policy: the time for all 200, the
   throughput against the ideal (the sum of the three instances' capacities, slots / time per
   reply), p50/p95 latency, the share of each instance, the probes each one got, and for
   `adaptive` the window each one ended with. Policies: `first` (the previous one: always the best
   instance by priority and probe latency), `balanced` with every weight 1, `balanced` with
   weights 2, 2, 1 (the instances' speeds, tuned by hand), and `adaptive` (the default) with every
   weight 1. `--transport loopback` (default) serves the simulators on real sockets, so replies
   stream as Ollama's do; `--transport asgi` runs them in process, where each reply arrives whole
   (as through a buffering proxy).
2. Cost: a fresh `Fleet` over two equal instances hit by 200 concurrent chats; the probes of each
   instance and the CPU time of the whole process per chat (client and in-process simulator
   together), for a 1-token and a 36-token streamed reply. It runs twice, in subprocesses: once on
   this code, once on the code of the git revision `--old-rev` (default: the commit before the
   balancing work, the parent of the commit that added reconciler/chat/balance.py), checked out
   with `git worktree add` into a temporary folder that is removed afterwards.

Run: `python benchmarks/chat_balance.py` (about a minute; `--only balance` or `--only cost`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconciler.chat import Fleet
from reconciler.names import parse
from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.testing import SimFleet, SimInstanceConfig, SimServer

try:
    from reconciler.desired import DesiredFleet, DesiredInstance, DesiredModel
except ImportError:  # the old revision kept them in the manifest package
    from reconciler.manifest.desired import (  # type: ignore[no-redef]
        DesiredFleet,
        DesiredInstance,
        DesiredModel,
    )

HERE = Path(__file__).resolve().parent.parent
BALANCER = "reconciler/chat/balance.py"

MODEL = "llama3.2:3b"
PROSE = [{"role": "user", "content": "Tell me about yourself."}]
ONE_WORD = [{"role": "user", "content": "Reply with the single word OK."}]
RATES = {"gpu-a": 50.0, "gpu-b": 50.0, "gpu-c": 25.0}
LOWER = "cpu"
FIRST_TOKEN_DELAY = 0.02


def servers(configs: Sequence[SimInstanceConfig]) -> dict[str, SimServer]:
    return {c.name: SimServer(c) for c in configs}


def factory(sims: dict[str, SimServer]) -> Any:
    import httpx

    def make(config: ClientConfig) -> OllamaClient:
        app = sims[config.instance].app
        return OllamaClient(config, transport=httpx.ASGITransport(app=app))

    return make


def desired(
    names: Sequence[str],
    weights: dict[str, int] | None = None,
    urls: dict[str, str] | None = None,
) -> DesiredFleet:
    instances = []
    for name in names:
        extra: dict[str, Any] = {}
        if weights is not None:
            extra["weight"] = weights.get(name, 1)
        instances.append(
            DesiredInstance(
                name=name,
                url=(urls or {}).get(name, f"http://{name}"),
                priority=2 if name == LOWER else 1,
                models=(DesiredModel(parse(MODEL)),),
                **extra,
            )
        )
    return DesiredFleet(instances=tuple(instances))


async def timed_chat(fleet: Fleet, messages: Any, options: dict[str, Any]) -> tuple[str, float]:
    start = time.perf_counter()
    result = await fleet.chat(model=MODEL, messages=messages, options=options)
    return result.instance, time.perf_counter() - start


async def balance(policy: str, weights: dict[str, int], args: argparse.Namespace) -> dict[str, Any]:
    configs = [
        SimInstanceConfig(
            name,
            models=(MODEL,),
            token_rate=rate,
            first_token_delay=FIRST_TOKEN_DELAY,
            parallel=args.parallel,
        )
        for name, rate in {**RATES, LOWER: 50.0}.items()
    ]
    names = [c.name for c in configs]
    options = {"num_predict": args.tokens}

    async def run(fleet: Fleet) -> tuple[list[tuple[str, float]], float, dict[str, Any]]:
        async with fleet:
            start = time.perf_counter()
            chats = (timed_chat(fleet, PROSE, options) for _ in range(args.chats))
            done = await asyncio.gather(*chats)
            wall = time.perf_counter() - start
            return done, wall, {n: load.window for n, load in fleet.load().items()}

    if args.transport == "asgi":  # in process: each reply arrives whole, first token and all
        sims = servers(configs)
        fleet = Fleet(desired(names, weights), client_factory=factory(sims), policy=policy)  # type: ignore[arg-type]
        done, wall, windows = await run(fleet)
    else:  # real loopback sockets: replies stream, token by token
        async with SimFleet(configs) as running:
            sims = {n: running[n] for n in names}
            urls = {n: running.url(n) for n in names}
            fleet = Fleet(desired(names, weights, urls), policy=policy)  # type: ignore[arg-type]
            done, wall, windows = await run(fleet)
    per_reply = {n: FIRST_TOKEN_DELAY + (args.tokens - 1) / r for n, r in RATES.items()}
    ideal = sum(args.parallel / t for t in per_reply.values())  # chats per second
    latencies = sorted(seconds for _, seconds in done)
    return {
        "wall": wall,
        "throughput": args.chats / wall,
        "ideal": ideal,
        "p50": statistics.median(latencies),
        "p95": latencies[int(0.95 * (len(latencies) - 1))],
        "share": Counter(name for name, _ in done),
        "probes": {n: sims[n].state.endpoints.count("listModels") for n in names},
        "windows": windows,
        "peak": {n: sims[n].ctx.slots.peak for n in names},
    }


def print_balance(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    labels = list(results)
    print(
        f"{args.chats} concurrent chats, {args.tokens}-token replies, {args.parallel} slots "
        f"per instance; priority 1: gpu-a 50, gpu-b 50, gpu-c 25 tokens/s; priority 2: cpu; "
        f"transport {args.transport}"
    )
    width = 24
    print("".ljust(22) + "".join(label.rjust(width) for label in labels))

    def row(title: str, cells: list[str]) -> None:
        print(title.ljust(22) + "".join(cell.rjust(width) for cell in cells))

    row("time for all (s)", [f"{r['wall']:.2f}" for r in results.values()])
    row("throughput (chats/s)", [f"{r['throughput']:.1f}" for r in results.values()])
    row("ideal (chats/s)", [f"{r['ideal']:.1f}" for r in results.values()])
    row("ideal / throughput", [f"{r['ideal'] / r['throughput']:.2f}x" for r in results.values()])
    row("p50 latency (s)", [f"{r['p50']:.2f}" for r in results.values()])
    row("p95 latency (s)", [f"{r['p95']:.2f}" for r in results.values()])
    for name in [*RATES, LOWER]:
        row(f"share {name}", [f"{r['share'].get(name, 0)}" for r in results.values()])
    for name in [*RATES, LOWER]:
        row(f"probes {name}", [f"{r['probes'][name]}" for r in results.values()])
    for name in RATES:
        row(f"window {name} (end)", [f"{r['windows'][name] or '-'}" for r in results.values()])
    for name in RATES:
        row(f"peak in flight {name}", [f"{r['peak'][name]}" for r in results.values()])


async def cost(chats: int) -> dict[str, Any]:
    """Runs on old and new code alike: only APIs both have."""
    out: dict[str, Any] = {}
    for label, messages, options in (
        ("1-token", ONE_WORD, {}),
        ("36-token", PROSE, {"num_predict": 36}),
    ):
        configs = [
            SimInstanceConfig(n, models=(MODEL,), token_rate=2000.0, first_token_delay=0.001)
            for n in ("gpu-a", "gpu-b")
        ]
        sims = servers(configs)
        async with Fleet(desired(["gpu-a", "gpu-b"]), client_factory=factory(sims)) as fleet:
            cpu = time.process_time()
            done = await asyncio.gather(
                *(timed_chat(fleet, messages, options) for _ in range(chats))
            )
            spent = time.process_time() - cpu
        out[label] = {
            "cpu_ms": spent / chats * 1000,
            "probes": {n: sims[n].state.endpoints.count("listModels") for n in sims},
            "share": dict(Counter(name for name, _ in done)),
        }
    return out


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def before_balancing() -> str:
    """The parent of the commit that added the balancer: the code before the balancing work."""
    added = git("log", "--diff-filter=A", "--format=%H", "--", BALANCER).splitlines()
    if not added:
        sys.exit(f"no commit adds {BALANCER} in this clone's history; pass --old-rev REV")
    return git("rev-parse", f"{added[-1]}^")


def run_cost_at(rev: str, chats: int) -> tuple[str, dict[str, Any]]:
    """The cost figures of the code at `rev`, checked out into a temporary worktree."""
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    with tempfile.TemporaryDirectory(prefix="orc-old-") as parent:
        tree = Path(parent) / "old"
        git("worktree", "add", "--detach", "--quiet", str(tree), commit)
        try:
            return commit, run_cost(tree, chats)
        finally:
            git("worktree", "remove", "--force", str(tree))


def run_cost(code: Path, chats: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, __file__, "--cost-json", "--chats", str(chats)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def print_cost(old: dict[str, Any], new: dict[str, Any], chats: int, commit: str) -> None:
    print(f"\nA fresh Fleet over two equal instances, {chats} concurrent chats")
    print(f"old code: {commit[:12]}; new code: this checkout")
    print("".ljust(34) + "old code".rjust(18) + "new code".rjust(18))
    for label in ("1-token", "36-token"):
        for key, title in (("cpu_ms", "CPU per chat (ms)"), ("probes", "probes gpu-a/gpu-b")):
            cells = []
            for data in (old, new):
                value = data[label][key]
                cells.append(
                    f"{value:.2f}" if key == "cpu_ms" else f"{value['gpu-a']}/{value['gpu-b']}"
                )
            print(f"{label} reply, {title}".ljust(34) + "".join(c.rjust(18) for c in cells))
        shares = [f"{d[label]['share'].get('gpu-a', 0)}/{d[label]['share'].get('gpu-b', 0)}"
                  for d in (old, new)]  # fmt: skip
        print(f"{label} reply, chats gpu-a/gpu-b".ljust(34) + "".join(s.rjust(18) for s in shares))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--only", choices=["balance", "cost"])
    parser.add_argument(
        "--transport",
        choices=["loopback", "asgi"],
        default="loopback",
        help="balance over real sockets (streamed replies) or in process (whole replies)",
    )
    parser.add_argument(
        "--old-rev",
        help="git revision of the old code (default: the parent of the commit adding the balancer)",
    )
    parser.add_argument("--cost-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cost_json:
        print(json.dumps(asyncio.run(cost(args.chats))))
        return
    if args.only != "cost":
        fast = {"gpu-a": 2, "gpu-b": 2, "gpu-c": 1}
        results = {
            "first (previous)": asyncio.run(balance("first", {}, args)),
            "balanced, weights 1": asyncio.run(balance("balanced", {}, args)),
            "balanced, weights 2/2/1": asyncio.run(balance("balanced", fast, args)),
            "adaptive, weights 1": asyncio.run(balance("adaptive", {}, args)),
        }
        print_balance(results, args)
    if args.only != "balance":
        commit, old = run_cost_at(args.old_rev or before_balancing(), args.chats)
        print_cost(old, run_cost(HERE, args.chats), args.chats, commit)


if __name__ == "__main__":
    main()
