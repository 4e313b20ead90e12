"""Names a package exports but imports only on first use (a module `__getattr__`, PEP 562).

A package lists its lazy names with the module each comes from; the first access imports that
module and keeps the value in the package's namespace, so later accesses cost nothing. This is how
`orc validate` and `orc plan` start without loading what they never use (see
docs/architecture.md, Performance).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, sources: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`, whose names in `sources` (name → module)
    are imported on first use and then kept in `namespace` (the package's globals)."""

    def __getattr__(name: str) -> Any:
        module = sources.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *namespace.get("__all__", ())})

    return __getattr__, __dir__
