"""httpx, imported without its command-line client; imported first by the package.

`import httpx` also imports `httpx._main`, the code of the `httpx` command, which loads click,
rich and pygments: about 50 ms of every orc command's start, for a command orc never runs. A
stand-in takes its place while httpx is imported (`httpx.main` then says it is not available);
the rest of httpx is untouched, and a later `import httpx._main` loads the real module.
"""

from __future__ import annotations

import sys
import types


def _not_available() -> None:
    raise SystemExit("the httpx command is not available inside orc")


if "httpx" not in sys.modules:
    _stand_in = types.ModuleType("httpx._main")
    setattr(_stand_in, "main", _not_available)  # noqa: B010 (a module made here, not typed)
    sys.modules["httpx._main"] = _stand_in
    try:
        import httpx  # noqa: F401
    finally:
        if sys.modules.get("httpx._main") is _stand_in:
            del sys.modules["httpx._main"]
