"""`orc demo`, the README's first command: runs in a subprocess, in under a minute, and shows the
plan, the apply summary and the status table, exiting 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

STATUS_HEADER = ("Name", "URL", "Enabled", "Prio", "Health", "Version", "Models", "Sync")


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"ORC_DEMO_TOKEN", "ORC_STATE_DIR"}}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "demo", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=60,
        check=False,
    )


def test_demo_runs_every_step_and_shows_plan_apply_and_status(tmp_path: Path):
    done = run_demo("--dir", str(tmp_path))

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "Plan: 3 to pull, 1 to create, 1 to load, 1 to delete." in out
    assert "Apply complete: 3 pulled, 1 created, 1 loaded, 1 deleted." in out
    assert "Verified: the instances touched now match the manifests." in out
    header = next(line for line in out.splitlines() if line.startswith("Name "))
    assert [c for c in header.split() if c in STATUS_HEADER] == list(STATUS_HEADER)
    steps = [line for line in out.splitlines() if line.startswith("── Step ")]
    assert len(steps) >= 5, "validate, plan, apply, plan again, status (later issues add more)"
    assert all(f"Step {i}/{len(steps)}:" in step for i, step in enumerate(steps, 1))
    assert "Demo complete in" in out
    assert out.index("Plan: 3 to pull") < out.index("Apply complete") < out.index(header)


def test_demo_keeps_its_manifests_usable_and_never_prints_the_token(tmp_path: Path):
    done = run_demo("--dir", str(tmp_path))

    assert done.returncode == 0
    docs = list(yaml.safe_load_all((tmp_path / "fleet.yaml").read_text(encoding="utf-8")))
    instances = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "OllamaInstance"}
    assert set(instances) == {"workstation", "gpu-gateway", "edge-box"}
    assert instances["gpu-gateway"]["auth"] == {"bearerToken": {"env": "ORC_DEMO_TOKEN"}}
    assert "demo-token-" not in done.stdout + done.stderr
    assert "demo-token-" not in "".join(
        p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()
    )
