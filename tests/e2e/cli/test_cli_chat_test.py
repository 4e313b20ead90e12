"""`orc chat-test` over real loopback sockets against a simulated fleet.

prod-gpu-1 (priority 1) and dev-box (priority 2, behind a bearer token, with an embedding model)
are real HTTP servers; the manifests are written into tmp_path; `orc` runs in a worker thread so
that the simulated servers keep serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.testing import SimFleet, SimInstanceConfig

TOKEN = "dev-SECRET-4c1d9e"
FIRST_TOKEN_DELAY = 0.3
TOKEN_RATE = 50.0

INSTANCE = """\
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata:
  name: {name}
spec:
  url: {url}
  priority: {priority}
{extra}"""

PROD_EXTRA = """\
  models:
    - name: llama3.2:3b
  smoke:
    - model: llama3.2:3b
      prompt: Reply with the single word OK.
      expect: '(?i)\\bok\\b'
"""

DEV_EXTRA = """\
  auth:
    bearerToken: {env: DEV_TOKEN}
  models:
    - name: llama3.2:3b
    - name: nomic-embed-text
  smoke:
    - model: llama3.2:3b
      prompt: Reply with the single word NO.
      expect: '(?i)\\bok\\b'
      timeout: 30s
"""


@pytest.fixture
async def sims() -> AsyncIterator[SimFleet]:
    """Two real servers on loopback; dev-box wants TOKEN and streams at a known pace."""
    configs = [
        SimInstanceConfig("prod-gpu-1", models=("llama3.2:3b",)),
        SimInstanceConfig(
            "dev-box",
            models=("llama3.2:3b", "nomic-embed-text"),
            token=TOKEN,
            first_token_delay=FIRST_TOKEN_DELAY,
            token_rate=TOKEN_RATE,
        ),
    ]
    async with SimFleet(configs) as fleet:
        yield fleet


@pytest.fixture
def manifests(sims: SimFleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The manifests of both instances, in their own folder; DEV_TOKEN set in the environment."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    prod = INSTANCE.format(name="prod-gpu-1", url=sims.url("prod-gpu-1"), priority=1, extra="")
    dev = INSTANCE.format(name="dev-box", url=sims.url("dev-box"), priority=2, extra="")
    (folder / "prod.yaml").write_text(prod + PROD_EXTRA)
    (folder / "dev.yaml").write_text(dev + DEV_EXTRA)
    monkeypatch.setenv("DEV_TOKEN", TOKEN)
    monkeypatch.setenv("COLUMNS", "200")
    return folder


async def orc(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


SUMMARY = re.compile(
    r"^via (?P<instance>\S+) \(priority (?P<priority>\d+)\) · first token (?P<ttft>\d+) ms"
    r" · total (?P<total>[\d.]+ m?s) · (?P<tps>[\d.]+) tokens/s"
    r"(?: · failed over from (?P<from>.+))?$"
)


async def test_priority_one_down_the_token_instance_serves_and_the_failover_is_shown(
    sims: SimFleet, manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await sims.stop("prod-gpu-1")
    code = await orc(
        "chat-test", str(manifests), "--model", "llama3.2:3b", "--prompt", "Reply with READY."
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    reply, summary = out.splitlines()
    assert reply == "READY"
    found = SUMMARY.match(summary)
    assert found, summary
    assert (found["instance"], found["priority"]) == ("dev-box", "2")
    assert found["from"] == "prod-gpu-1: unreachable"
    assert TOKEN not in out + err


async def test_json_reports_content_instance_metrics_and_failovers(
    sims: SimFleet, manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await sims.stop("prod-gpu-1")
    code = await orc("chat-test", str(manifests), "-m", "llama3.2:3b", "--format", "json")
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["instance"] == "dev-box"
    assert "simulated" in data["content"]
    assert data["metrics"]["tokens_per_second"] == pytest.approx(TOKEN_RATE)
    assert [(f["instance"], f["reason"]) for f in data["failovers"]] == [
        ("prod-gpu-1", "unreachable")
    ]
    assert TOKEN not in out + err


async def test_json_failure_is_a_document_too(
    sims: SimFleet, manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(sims):
        await sims.stop(name)
    code = await orc("chat-test", str(manifests), "-m", "llama3.2:3b", "--format", "json")
    out, err = capsys.readouterr()
    assert code == 1
    data = json.loads(out)  # stdout stays machine-readable on failure
    assert data["ok"] is False
    assert data["model"] == "llama3.2:3b"
    assert data["error"]["type"] == "NoInstanceAvailable"
    assert data["error"]["exit_code"] == 1
    assert "no instance could serve" in data["error"]["message"]
    reasons = {entry["instance"] for entry in data["failovers"] + data["passed_over"]}
    assert reasons >= {"prod-gpu-1", "dev-box"}
    assert err.startswith("Error: no instance could serve")  # the one line for people
    assert TOKEN not in out + err


async def test_an_unknown_model_fails_as_json_with_the_instances_passed_over(
    manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await orc("chat-test", str(manifests), "-m", "no-such-model:1b", "--format", "json")
    out, _ = capsys.readouterr()
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False
    assert data["passed_over"], data


async def test_time_to_first_token_and_speed_match_the_simulated_pace(
    manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await orc(
        "chat-test", str(manifests), "-m", "llama3.2:3b", "--instance", "dev-box",
        "--prompt", "Tell me about yourself.",
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    found = SUMMARY.match(out.splitlines()[-1])
    assert found, out
    assert int(found["ttft"]) / 1000 == pytest.approx(FIRST_TOKEN_DELAY, rel=0.1)
    assert float(found["tps"]) == pytest.approx(TOKEN_RATE, rel=0.1)
    assert found["from"] is None


async def test_all_runs_every_smoke_test_and_a_failing_expect_fails_the_run(
    manifests: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "reports" / "chat.xml"
    code = await orc("chat-test", str(manifests), "--all", "--every-model", "--junit", str(junit))
    out, err = capsys.readouterr()
    assert code == 1, err
    rows = [line.split(maxsplit=3) for line in out.splitlines()[2:-1]]
    assert [row[:3] for row in rows] == [
        ["prod-gpu-1", "llama3.2:3b", "PASS"],
        ["dev-box", "llama3.2:3b", "FAIL"],
        ["dev-box", "nomic-embed-text:latest", "SKIP"],
    ]
    assert r"expected a match of (?i)\bok\b, got 'NO'" in out
    assert "nomic-embed-text:latest is an embedding model and cannot chat" in out
    assert out.splitlines()[-1] == "1 passed, 1 failed, 1 skipped."

    root = ET.parse(junit).getroot()
    failing = [
        (suite.get("name"), case.get("name"), case.find("failure").get("message"))  # type: ignore[union-attr]
        for suite in root.iter("testsuite")
        for case in suite.iter("testcase")
        if case.find("failure") is not None
    ]
    assert failing == [
        ("dev-box", "smoke 1: llama3.2:3b", r"expected a match of (?i)\bok\b, got 'NO'")
    ]
    skipped = [c.get("name") for c in root.iter("testcase") if c.find("skipped") is not None]
    assert skipped == ["chat: nomic-embed-text:latest"]
    assert TOKEN not in out + err + junit.read_text()


async def test_all_passes_when_every_check_passes(
    manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await orc("chat-test", str(manifests), "--all", "--instance", "prod-gpu-1")
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.splitlines()[-1] == "1 passed, 0 failed, 0 skipped."


async def test_all_as_json(manifests: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = await orc("chat-test", str(manifests), "--all", "--format", "json")
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["summary"] == {"pass": 1, "fail": 1, "skip": 0}


async def test_a_wrong_token_fails_with_a_clear_error_that_does_not_show_it(
    sims: SimFleet,
    manifests: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = "wrong-SECRET-0a9f"
    monkeypatch.setenv("DEV_TOKEN", wrong)
    await sims.stop("prod-gpu-1")
    code = await orc("chat-test", str(manifests), "--model", "llama3.2:3b")
    out, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("Error: no instance could serve a chat with llama3.2:3b: ")
    assert "prod-gpu-1 (priority 1) passed over: unreachable" in err
    assert "dev-box (priority 2) passed over: unauthorized" in err
    assert wrong not in out + err and TOKEN not in out + err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Error: --model is required (or --all to run the fleet's smoke tests)"),
        (("--model", "x", "--all"), "Error: --model and --all do not go together"),
        (("--model", "x", "--every-model"), "Error: --every-model and --junit need --all"),
        (
            ("--model", "x", "--timeout", "soon"),
            "Error: Invalid value for '--timeout': invalid duration 'soon'",
        ),
        (("--model", "x", "--instance", "nope"), "Error: no instance named 'nope'"),
    ],
)
async def test_usage_errors_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    nowhere = INSTANCE.format(name="box", url="http://127.0.0.1:9", priority=1, extra="")
    (tmp_path / "box.yaml").write_text(nowhere)
    code = await orc("chat-test", str(tmp_path), *args)
    assert code == 1
    lines = capsys.readouterr().err.splitlines()
    assert any(line.startswith(message) for line in lines), lines
