"""`orc status --format html` against a simulated fleet on loopback, no browser needed.

The file must stand alone: no script, no URL it would load, every instance and model shown, the
recent applied actions from the state directory, and the same exit codes as the other formats.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CODER, EMBED, LLAMA

pytestmark = pytest.mark.slow


def status(manifests: Path, state: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "reconciler", "status", str(manifests), "--format", "html"]
    command += ["--state-dir", str(state), *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_status_html_is_one_self_contained_page(manifests: Path, tmp_path: Path) -> None:
    run = status(manifests, tmp_path / "state", "--detailed-exitcode")
    assert run.returncode == 2, "edge is down and gpu-1 is out of sync"
    page = run.stdout
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "url(" not in page and "@import" not in page
    assert "Content-Security-Policy" in page
    for name in ("gpu-1", "dev-box", "edge"):
        assert f'id="instance-{name}"' in page
    for model in (LLAMA, CODER, EMBED):
        assert model in page
    assert "connection refused" in page
    assert "none recorded" in page, "no apply has run in this state directory yet"


def test_status_html_lists_the_actions_of_an_apply(manifests: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    command = [sys.executable, "-m", "reconciler", "apply", str(manifests), "--yes"]
    applied = subprocess.run(
        [*command, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert applied.returncode in (0, 3), applied.stderr
    page = status(manifests, state).stdout
    activity = page[page.index('id="activity"') :]
    assert re.search(r"<td>pull</td><td><code>smollm2:135m</code></td>", activity)
    assert "none recorded" in activity, "there are no reconciles of a daemon in a file"
