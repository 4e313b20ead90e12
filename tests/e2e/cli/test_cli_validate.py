"""`python -m reconciler validate` in a real subprocess: exit codes and machine-readable output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "tests" / "manifests"

pytestmark = pytest.mark.slow


def orc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_valid_fleets_exit_zero_with_a_summary() -> None:
    done = orc("validate", "tests/manifests/valid/selectors", "tests/manifests/valid/minimal")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == (
        "tests/manifests/valid/selectors/instances.yaml:9:17: warning: spec.tls.verify: false "
        "turns certificate checks off: anyone on the network path can pose as the server and "
        "read its credentials (set tls.caFile to the CA that signed the server's certificate "
        "instead)\n"
        "Valid: 4 files, 4 instances, 3 model sets, 1 warning.\n"
    )


def test_every_invalid_manifest_is_reported_as_json_with_exit_one() -> None:
    done = orc("validate", "--format", "json", "tests/manifests/invalid")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert report["valid"] is False
    reported = {Path(d["range"]["filename"]).name for d in report["diagnostics"]}
    on_disk = {path.name for path in (MANIFESTS / "invalid").glob("*.yaml")}
    assert on_disk <= reported
    assert report["error_count"] >= len(on_disk)
