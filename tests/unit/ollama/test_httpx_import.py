"""httpx is imported without its command-line client (click, rich and pygments stay unloaded),
and is whole otherwise; checked in a fresh interpreter by which modules it loaded."""

from __future__ import annotations

import json

from tests.support.fresh_interpreter import run_fresh

PROBE = """
import json, sys
import reconciler.ollama
import httpx
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("httpx", "pygments", "rich"))
print(json.dumps({"loaded": loaded, "client": hasattr(httpx, "AsyncClient")}))
"""


def _loaded() -> dict[str, object]:
    found: dict[str, object] = json.loads(run_fresh(PROBE))
    return found


def test_the_client_package_loads_httpx_without_its_command_line() -> None:
    found = _loaded()
    loaded = found["loaded"]
    assert isinstance(loaded, list)
    assert "httpx" in loaded
    assert found["client"] is True
    assert "httpx._main" not in loaded
    assert not [m for m in loaded if m.startswith(("pygments", "rich"))]


def test_the_real_command_line_module_is_still_importable() -> None:
    code = "import reconciler.ollama, httpx._main as m; print(m.__file__ is not None)"
    assert run_fresh(code).strip() == "True"
