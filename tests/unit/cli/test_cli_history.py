"""`orc history`: reads the state directory only; filters, limits, formats, and the schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.cli.main import main
from reconciler.state import ChatOutcome, ChatRecord, HistoryRecord, ProbeRecord, StateDir, to_ms

SCHEMA = Path(__file__).resolve().parents[3] / "schemas" / "history.v1.schema.json"


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two days of a small fleet's history: probes, a failed one, chats, one apply."""
    with StateDir(tmp_path) as state:
        state.record_probes([ProbeRecord(to_ms(ago(hours=30)), "gpu-1", "Healthy", True, 9.0)])
        state.record_probes(
            [
                ProbeRecord(to_ms(ago(hours=2)), "gpu-1", "Healthy", True, 12.0, "0.12.6"),
                ProbeRecord(
                    to_ms(ago(hours=2)), "gpu-2", "Unreachable", False, None, None,
                    "ConnectionRefused", "cannot connect",
                ),
            ]
        )  # fmt: skip
        state.record_chats(
            [ChatRecord(to_ms(ago(hours=1)), "gpu-1", "llama3.2:3b", ChatOutcome.OK, 80.0, 40.0)]
        )
        finished = ago(minutes=30).strftime("%Y-%m-%dT%H:%M:%SZ")
        state.record_history(
            [HistoryRecord("r1", finished, finished, "gpu-2", "pull", "phi3:mini", "failed",
                           "no space left", 3, 12.5)]
        )  # fmt: skip
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["history", *args])
    return code, capsys.readouterr().out


def test_json_lists_the_last_day_oldest_first_and_validates(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "--state-dir", str(folder), "--format", "json")
    assert code == 0
    document = json.loads(out)
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(document)
    assert [(e["kind"], e["instance"]) for e in document["events"]] == [
        ("probe", "gpu-1"),
        ("probe", "gpu-2"),
        ("chat", "gpu-1"),
        ("apply", "gpu-2"),
    ]
    assert document["events"][1]["reason"] == "ConnectionRefused"
    assert document["events"][3]["error"] == "no space left"


def test_since_instance_and_kind_narrow_it(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--state-dir", str(folder), "--format", "json")
    _, out = run(capsys, *args, "--since", "2d")
    assert len(json.loads(out)["events"]) == 5
    _, out = run(capsys, *args, "--instance", "gpu-2")
    assert {e["instance"] for e in json.loads(out)["events"]} == {"gpu-2"}
    _, out = run(capsys, *args, "--kind", "probe", "--kind", "chat")
    assert [e["kind"] for e in json.loads(out)["events"]] == ["probe", "probe", "chat"]
    _, out = run(capsys, *args, "--since", "90m")
    assert [e["kind"] for e in json.loads(out)["events"]] == ["chat", "apply"]


def test_limit_keeps_the_newest_and_counts_the_rest(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = run(capsys, "--state-dir", str(folder), "--format", "json", "--limit", "2")
    document: dict[str, Any] = json.loads(out)
    assert [e["kind"] for e in document["events"]] == ["chat", "apply"]
    assert document["omitted"] == 2
    _, text = run(capsys, "--state-dir", str(folder), "--limit", "2")
    assert "2 older ones not shown" in text


def test_table_and_markdown(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, text = run(capsys, "--state-dir", str(folder))
    assert "ConnectionRefused: cannot connect" in text
    assert "first token 80 ms, 40.0 tokens/s" in text
    assert "pull phi3:mini" in text and "3 attempts: no space left" in text
    _, md = run(capsys, "--state-dir", str(folder), "--format", "markdown")
    assert md.startswith("### orc history") and "| `gpu-2` |" in md


def test_a_missing_state_directory_is_an_empty_history_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = run(capsys, "--state-dir", str(tmp_path / "none"))
    assert code == 0 and text.startswith("0 events since")
    assert not (tmp_path / "none").exists()


def test_retention_and_window_flags_reach_the_state_and_the_watch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(
        "reconciler.cli.watch.run_watch", lambda settings: seen.append(settings) or 0
    )
    fleet = Path(__file__).resolve().parents[2] / "manifests" / "valid" / "selectors"
    args = ["watch", str(fleet), "--retention", "7d", "--window", "1h30m"]
    assert main(args) == 0
    assert (seen[0].retention, seen[0].window) == (7 * 86400.0, 5400.0)
    assert main(["watch", str(fleet)]) == 0
    assert (seen[1].retention, seen[1].window) == (30 * 86400.0, 86400.0)


def test_chat_test_takes_a_state_dir_and_a_retention(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[Any] = []

    async def fake(settings: Any) -> int:
        seen.append(settings)
        return 0

    monkeypatch.setattr("reconciler.cli.chat_test.run_chat_test", fake)
    fleet = Path(__file__).resolve().parents[2] / "manifests" / "valid" / "selectors"
    args = ["chat-test", str(fleet), "--model", "m", "--state-dir", str(tmp_path)]
    assert main([*args, "--retention", "12h"]) == 0
    assert (seen[0].state_dir, seen[0].retention) == (tmp_path, 43200.0)
