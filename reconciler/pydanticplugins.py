"""pydantic runs no plugins inside orc; imported first, by the package itself.

When pydantic builds its first validator it looks for plugins: it scans every installed
distribution for entry points of the `pydantic` group, imports each one, and hands it every
validator built afterwards, so it sees every value validated. In orc those values are manifests
(inline secrets included) and server replies. A plugin is chosen by being installed, not by the
runner of orc, and could send what it sees to another host (see docs/security.md, Where
credentials are sent). The lookup also costs every command's start about 20 ms: it imports
`importlib.metadata` (with email, zipfile and csv) and reads the metadata of every distribution.

pydantic (2.6 to 2.14) imports `get_plugins` from `pydantic.plugin._loader` each time it builds a
validator, never earlier. A finder first on `sys.meta_path` makes that import load a stand-in
whose `get_plugins()` finds no plugins: the real module is never imported and no entry point is
ever read. Nothing is loaded ahead: a command that needs no pydantic imports none of it. When a
program imported the real module before `reconciler`, the stand-in takes its place: validators
built after `import reconciler` run no plugin (those built before keep what they had).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable, Sequence
from importlib.machinery import ModuleSpec
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from importlib.abc import Loader  # the protocol; importing it would load importlib.resources

LOADER = "pydantic.plugin._loader"
"""The module pydantic imports `get_plugins` from."""


def _no_plugins() -> Iterable[object]:
    """`get_plugins()` of the stand-in: never any plugin."""
    return ()


class _StandIn:
    """Finds and loads the stand-in in place of `pydantic.plugin._loader`, and nothing else."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> ModuleSpec | None:
        """The stand-in's spec for pydantic's plugin loader; None (not mine) for any other."""
        return ModuleSpec(LOADER, cast("Loader", self)) if fullname == LOADER else None

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        """None: the import system makes a plain module."""
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        """The names of pydantic's own module, with no plugins."""
        module.__doc__ = "Stand-in of pydantic's plugin loader: orc runs no plugins."
        # a module made here, not typed
        setattr(module, "get_plugins", _no_plugins)  # noqa: B010
        setattr(module, "PYDANTIC_ENTRY_POINT_GROUP", "pydantic")  # noqa: B010


def installed() -> bool:
    """Whether pydantic's plugin lookup is (or, once imported, will be) the stand-in's."""
    if not any(isinstance(finder, _StandIn) for finder in sys.meta_path):
        return False
    module = sys.modules.get(LOADER)
    return module is None or getattr(module, "get_plugins", None) is _no_plugins


def _install() -> None:
    finder = _StandIn()
    sys.meta_path.insert(0, finder)
    if LOADER in sys.modules:  # imported by the program before orc: replace it
        module = types.ModuleType(LOADER)
        module.__spec__ = finder.find_spec(LOADER, None)
        module.__loader__ = cast("Loader", finder)
        finder.exec_module(module)
        sys.modules[LOADER] = module
        parent = sys.modules.get(LOADER.rpartition(".")[0])
        if parent is not None:
            setattr(parent, "_loader", module)  # noqa: B010 (pydantic's package, not typed here)


if not installed():
    _install()
