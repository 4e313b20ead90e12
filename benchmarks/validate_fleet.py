"""Time `orc validate` on a generated fleet of 1,000 OllamaInstance documents.

The target is under 2 s. The fleet is written to a temporary folder (10 files of 100
instances, 4 ModelSets, a Fleet document, realistic fields), then validated in-process (three
runs, best and median shown) and once as a subprocess (`python -m reconciler validate`), which
includes interpreter start-up and imports. Run: `python benchmarks/validate_fleet.py`.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler.cli.main import main

INSTANCES = 1_000
FILES = 10
LIMIT_SECONDS = 2.0
TIERS = ("gpu", "cpu", "edge", "lab")

INSTANCE = """\
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata:
  name: node-{n:04d}
  labels: {{env: {env}, tier: {tier}, zone: zone-{zone}}}
spec:
  url: https://ollama-{n:04d}.fleet.example.com/ollama
  priority: {priority}
  timeout: 45s
  pullTimeout: 1h30m
  tls: {{verify: true}}
  auth:
    bearerToken: {{env: FLEET_TOKEN_{zone}}}
  headers:
    X-Client-ID: fleet-benchmark
    X-API-Key: {{env: FLEET_API_KEY}}
  endpoints:
    health: /api/health
    listModels: /api/tags
  modelSets: [common]
  models:
    - name: llama3.2:3b
      keepLoaded: true
    - name: qwen2.5-coder:{size}b
    - name: old-model-{n}:7b
      state: absent
    - name: reviewer-{n}
      from: qwen2.5-coder:{size}b
      system: You are a careful code reviewer.
      parameters: {{num_ctx: 8192, temperature: 0.2, stop: ["<|end|>"]}}
  prune: {prune}
  protect: ["llama3*", "team/*"]
  smoke:
    - model: llama3.2:3b
      prompt: Reply with the single word OK.
      expect: "(?i)\\\\bok\\\\b"
"""

MODEL_SETS = """\
apiVersion: ollama-reconciler/v1
kind: ModelSet
metadata: {name: common}
spec:
  models: [{name: nomic-embed-text}, {name: all-minilm:l6-v2}]
---
apiVersion: ollama-reconciler/v1
kind: ModelSet
metadata: {name: gpu}
spec:
  selector: {matchLabels: {tier: gpu}}
  models: [{name: "llama3.1:70b"}, {name: "mixtral:8x7b"}]
---
apiVersion: ollama-reconciler/v1
kind: ModelSet
metadata: {name: edge}
spec:
  selector: {matchLabels: {tier: edge}}
  models: [{name: "phi3:mini"}, {name: "gemma2:2b"}]
---
apiVersion: ollama-reconciler/v1
kind: ModelSet
metadata: {name: lab}
spec:
  selector: {matchLabels: {tier: lab, env: dev}}
  models: [{name: "deepseek-r1:8b", keepLoaded: true}]
---
apiVersion: ollama-reconciler/v1
kind: Fleet
metadata: {name: benchmark}
spec:
  defaults: {timeout: 30s, priority: 5, tls: {verify: true}, headers: {X-Fleet: bench}}
  parallelism: 20
  interval: 5m
  safety: {allowEmpty: false, maxDeletions: 25}
"""


def write_fleet(folder: Path) -> None:
    """Write the generated manifests into `folder`."""
    per_file = INSTANCES // FILES
    for file_index in range(FILES):
        documents = [
            INSTANCE.format(
                n=n,
                env="prod" if n % 3 else "dev",
                tier=TIERS[n % len(TIERS)],
                zone=n % 5,
                priority=1 + n % 10,
                size=(7, 14, 32)[n % 3],
                prune="true" if n % 2 else "false",
            )
            for n in range(file_index * per_file, (file_index + 1) * per_file)
        ]
        (folder / f"instances-{file_index:02d}.yaml").write_text("---\n".join(documents))
    (folder / "model-sets.yaml").write_text(MODEL_SETS)


def time_in_process(folder: Path) -> tuple[float, int, str]:
    """Seconds, exit code and summary line of one in-process `orc validate`."""
    output = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(output):
        code = main(["validate", str(folder)])
    elapsed = time.perf_counter() - start
    return elapsed, code, output.getvalue().strip().splitlines()[-1]


def time_subprocess(folder: Path) -> tuple[float, int]:
    """Seconds and exit code of `python -m reconciler validate` (start-up included)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(folder)],
        capture_output=True,
        check=False,
    )
    return time.perf_counter() - start, done.returncode


def run() -> int:
    """Generate, time, print; exit 1 if a figure is over the limit or validation failed."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_fleet(folder)
        runs = [time_in_process(folder) for _ in range(3)]
        sub_seconds, sub_code = time_subprocess(folder)
    times = [seconds for seconds, _, _ in runs]
    print(f"fleet: {INSTANCES} instances in {FILES} files + 4 ModelSets and a Fleet")
    print(f"summary: {runs[0][2]}")
    print(
        f"in-process: first {times[0]:.3f} s, best {min(times):.3f} s, "
        f"median {statistics.median(times):.3f} s"
    )
    print(f"subprocess (python -m reconciler validate): {sub_seconds:.3f} s")
    failed = any(code != 0 for _, code, _ in runs) or sub_code != 0
    slow = max(times[0], sub_seconds) >= LIMIT_SECONDS
    print(f"limit {LIMIT_SECONDS:.1f} s: {'FAILED' if failed or slow else 'ok'}")
    return 1 if failed or slow else 0


if __name__ == "__main__":
    sys.exit(run())
