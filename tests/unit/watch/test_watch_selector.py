"""`orc watch --selector`: a watcher owns one shard of the fleet, and never a shard of nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import UsageError
from reconciler.watch.daemon import check_selector
from reconciler.watch.manifests import ManifestReader
from reconciler.watch.record import WatchRecord
from reconciler.watch.schedule import Backoffs, Due, Trigger

STARTUP = Due(frozenset({Trigger.STARTUP}))


def instance(name: str, port: int, shard: str) -> str:
    return (
        "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\n"
        f"metadata: {{name: {name}, labels: {{shard: {shard}}}}}\n"
        f"spec: {{url: 'http://127.0.0.1:{port}', models: [{{name: llama3.2:3b}}]}}\n"
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "a.yaml").write_text(instance("gpu-a", 11001, "eu"))
    (tmp_path / "b.yaml").write_text(instance("gpu-b", 11002, "us"))
    return tmp_path


def _record(paths: tuple[Path, ...], selector: dict[str, str]) -> WatchRecord:
    return WatchRecord(
        paths, "apply", 60.0, 0.0, datetime(2026, 1, 1, tzinfo=UTC), selector=selector
    )


async def test_a_watcher_owns_only_its_shard_and_says_so(folder: Path) -> None:
    record = _record((folder,), {"shard": "eu"})
    reader = ManifestReader((folder,), selector={"shard": "eu"})
    desired = await reader.read(STARTUP, record, Backoffs(1, 2, 60))
    assert desired is not None
    assert [i.name for i in desired.instances] == ["gpu-a"]
    record.refresh(datetime(2026, 1, 1, tzinfo=UTC))
    assert record.document["owned"] == {"selector": {"shard": "eu"}, "instances": ["gpu-a"]}
    assert [i["name"] for i in record.document["instances"]] == ["gpu-a"]


async def test_a_selector_that_stops_matching_keeps_the_last_valid_manifests(folder: Path) -> None:
    record = _record((folder,), {"shard": "eu"})
    reader = ManifestReader((folder,), selector={"shard": "eu"})
    backoffs = Backoffs(1, 2, 60)
    first = await reader.read(STARTUP, record, backoffs)
    (folder / "a.yaml").write_text(instance("gpu-a", 11001, "asia"))  # relabelled away

    again = await reader.read(Due(frozenset({Trigger.CHANGE})), record, backoffs)

    assert again is first  # nothing of the shard vanishes, so nothing is pruned
    assert record.manifests.valid is False
    (problem,) = record.manifests.diagnostics
    assert "--selector shard=eu matches no instance" in problem.message


def test_start_is_refused_when_the_selector_matches_nothing(folder: Path) -> None:
    with pytest.raises(UsageError, match="--selector shard=asia matches no instance"):
        check_selector((folder,), {"shard": "asia"})
    check_selector((folder,), {"shard": "us"})  # matches gpu-b: fine


def test_invalid_manifests_are_left_to_the_daemon_to_report(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("kind: [\n")
    check_selector((tmp_path,), {"shard": "eu"})  # no error here: watch reports and waits
