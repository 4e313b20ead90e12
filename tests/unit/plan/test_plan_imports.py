"""The plan is pure in fact: importing it loads no I/O, parsing or terminal library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _run(code: str) -> str:
    """Run `code` in a fresh interpreter that imports this checkout's package."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    return done.stdout


HEAVY = ("yaml", "pydantic", "httpx", "click", "rich", "sqlite3", "reconciler.manifest")


def test_importing_the_plan_loads_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "import reconciler.plan\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy"
        " or any(m == h or m.startswith(h + '.') for h in heavy))))\n"
    )
    assert json.loads(_run(code)) == []


def test_the_check_sees_a_heavy_import() -> None:
    """The probe above would notice: importing the manifest loader does load PyYAML."""
    code = "import sys\nfrom reconciler.manifest import load_fleet\nprint('yaml' in sys.modules)\n"
    assert _run(code).strip() == "True"
