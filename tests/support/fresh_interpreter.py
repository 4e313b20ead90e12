"""Run Python code in a fresh interpreter that imports this checkout's package, for tests of
what an import or a command loads (module presence, never timing).

Import it as `from tests.support.fresh_interpreter import run_fresh`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_fresh(code: str) -> str:
    """The standard output of `python -c code` run from the checkout (which must exit 0)."""
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
