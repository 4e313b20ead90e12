"""`orc sim --write-manifests`: never replaces files silently, cleans up after itself with
`--force`, and `--endpoints` serves custom paths that the written manifests name."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from reconciler.errors import UsageError
from reconciler.manifest.loader import load_fleet
from reconciler.testing.manifests import WRITTEN_BY, check_manifests_folder
from reconciler.testing.runner import SimSettings, serve


async def _serve_once(settings: SimSettings) -> list[str]:
    """Start the simulated fleet, let it write its manifests, stop it; returns its output."""
    lines: list[str] = []
    stop = asyncio.Event()

    def echo(line: str) -> None:
        lines.append(line)
        if line.startswith("URLs: "):
            stop.set()

    await asyncio.wait_for(serve(settings, echo, stop), timeout=30)
    return lines


def test_an_existing_manifest_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "sim-1.yaml").write_text("kind: mine\n")
    with pytest.raises(UsageError, match=r"sim-1\.yaml") as caught:
        check_manifests_folder(tmp_path, ["sim-1", "sim-2"], force=False)
    assert "--force" in caught.value.hint


def test_files_of_an_earlier_run_are_refused_too_then_listed_for_removal(tmp_path: Path) -> None:
    old = tmp_path / "sim-3.yaml"
    old.write_text(f"{WRITTEN_BY} for the simulated Ollama instance sim-3.\n")
    mine = tmp_path / "mine.yaml"
    mine.write_text("# my own manifest\n")
    with pytest.raises(UsageError, match=r"sim-3\.yaml"):
        check_manifests_folder(tmp_path, ["sim-1"], force=False)
    assert check_manifests_folder(tmp_path, ["sim-1"], force=True) == [old]


def test_a_file_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("")
    with pytest.raises(UsageError, match="not a directory"):
        check_manifests_folder(target, ["sim-1"], force=True)


async def test_force_replaces_and_removes_what_an_earlier_run_wrote(tmp_path: Path) -> None:
    folder = tmp_path / "sim"
    await _serve_once(SimSettings(instances=3, manifests_dir=folder))
    assert sorted(p.name for p in folder.glob("*.yaml")) == [
        "sim-1.yaml",
        "sim-2.yaml",
        "sim-3.yaml",
    ]
    (folder / "mine.yaml").write_text("# my own manifest, not orc sim's\n")

    with pytest.raises(UsageError):
        await _serve_once(SimSettings(instances=2, manifests_dir=folder))

    await _serve_once(SimSettings(instances=2, manifests_dir=folder, force=True))
    names = sorted(p.name for p in folder.glob("*.yaml"))
    assert names == ["mine.yaml", "sim-1.yaml", "sim-2.yaml"]


async def test_custom_endpoints_are_served_and_written_into_the_manifests(tmp_path: Path) -> None:
    endpoints = {"chat": "/api/v1/chat", "listModels": "/api/v1/models"}
    folder = tmp_path / "sim"
    stop, ready = asyncio.Event(), asyncio.Event()
    urls: list[str] = []

    def echo(line: str) -> None:
        if line.startswith("URLs: "):
            urls.extend(line.split()[1:])
            ready.set()

    task = asyncio.create_task(
        serve(SimSettings(instances=1, manifests_dir=folder, endpoints=endpoints), echo, stop)
    )
    try:
        await asyncio.wait_for(ready.wait(), timeout=30)
        async with httpx.AsyncClient(base_url=urls[0]) as client:
            reply = await client.get("/api/v1/models")
        assert reply.status_code == 200
        assert "models" in reply.json()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    loaded = load_fleet([folder])
    assert loaded.ok, loaded.errors
    assert loaded.fleet is not None
    (instance,) = loaded.fleet.instances
    assert instance.endpoints["chat"] == "/api/v1/chat"
    assert instance.endpoints["listModels"] == "/api/v1/models"
