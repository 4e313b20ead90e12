"""Fixtures for the whole suite.

Applies take machine-wide per-server locks; every test gets its own lock directory (and XDG
state home), so no test touches the real home directory and parallel runs never contend.
Subprocesses started by tests inherit these variables.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_lock_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A fresh `ORC_LOCK_DIR` and `XDG_STATE_HOME` for this test."""
    home = tmp_path_factory.mktemp("xdg-state")
    locks = home / "orc" / "locks"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    monkeypatch.setenv("ORC_LOCK_DIR", str(locks))
    return locks
