"""`python -m reconciler` runs the `orc` command line."""

from __future__ import annotations

from reconciler.cli.main import run

run()
