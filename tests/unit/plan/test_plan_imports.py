"""The plan is pure in fact: importing it loads no I/O, parsing or terminal library."""

from __future__ import annotations

import json

from tests.support.fresh_interpreter import run_fresh


def _run(code: str) -> str:
    """Run `code` in a fresh interpreter that imports this checkout's package."""
    return run_fresh(code)


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
