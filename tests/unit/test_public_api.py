"""The public Python API: what `from reconciler import ...` offers, pinned, and that it is lazy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import reconciler

PUBLIC = [
    "ChatError",
    "ChatFailed",
    "ClientConfig",
    "Fleet",
    "FleetChatResult",
    "NoInstanceAvailable",
    "OllamaClient",
    "OllamaError",
    "ReconcilerError",
    "__version__",
]
ROOT = Path(reconciler.__file__).resolve().parent.parent


def test_all_is_pinned() -> None:
    assert reconciler.__all__ == PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_resolves_and_is_documented(name: str) -> None:
    value = getattr(reconciler, name)
    if name != "__version__":
        assert value.__doc__, f"{name} has no docstring"
        assert value.__module__.startswith("reconciler.")


def test_the_names_are_the_real_classes() -> None:
    from reconciler.chat import Fleet
    from reconciler.ollama import OllamaClient

    assert reconciler.Fleet is Fleet
    assert reconciler.OllamaClient is OllamaClient


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Flet'"):
        _ = reconciler.Flet  # type: ignore[attr-defined]


def test_importing_the_package_does_not_load_the_network_stack() -> None:
    code = (
        "import sys, reconciler; "
        "print(sorted(m for m in ('httpx', 'reconciler.chat', 'reconciler.ollama') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"
