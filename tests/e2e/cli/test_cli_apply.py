"""`orc apply` end to end over real sockets: convergence, confirmation, JSON events, secrets,
history.

Two simulated servers: `ws`, a plain workstation, and `gw`, a gateway that wants a bearer token
(read from the environment), gets a secret header (read from a file) and serves some routes on
custom paths. The manifests ask for every kind of action: pulls, a custom model, a load and a
deletion. More apply scenarios (faults, guards, lock, Ctrl-C, saved plans) are in tests/e2e/apply.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import yaml

from reconciler.cli.main import main
from reconciler.state import StateDir
from reconciler.testing import BackgroundFleet, SimFleet, SimInstanceConfig

SCHEMA = Path(__file__).parents[3] / "schemas" / "apply-events.v1.schema.json"
TOKEN_ENV = "ORC_E2E_APPLY_TOKEN"
TOKEN = "tok-SECRET-9f4e1a77c2"
HEADER_SECRET = "hdr-SECRET-51d0be3a8e"
GATEWAY_PATHS = {"health": "/api/v1/health", "listModels": "/api/v1/models"}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

WS_AFTER = {"llama3.2:3b", "qwen2.5-coder:1.5b", "reviewer:latest", "all-minilm:latest"}
GW_AFTER = {"smollm2:135m", "nomic-embed-text:latest"}
SUMMARY = "Apply complete: 3 pulled, 1 created, 1 loaded, 1 deleted."


@dataclass
class Setup:
    """The running fleet, its manifests folder and the state directory."""

    fleet: SimFleet
    manifests: Path
    state: Path

    def args(self, *more: str) -> list[str]:
        return [str(self.manifests), *more, "--state-dir", str(self.state)]

    def untouched(self) -> bool:
        ws, gw = self.fleet["ws"].state, self.fleet["gw"].state
        changes = ("pull", "create", "delete", "generate", "embed")
        return not any(s.endpoint_count(e) for s in (ws, gw) for e in changes)


def manifests(ws_url: str, gw_url: str) -> list[dict[str, object]]:
    """Both instances: every kind of action on ws, a pull on gw behind its token."""
    head = {"apiVersion": "ollama-reconciler/v1", "kind": "OllamaInstance"}
    ws = {
        "url": ws_url,
        "models": [
            {"name": "llama3.2:3b", "keepLoaded": True},
            {"name": "tinyllama", "state": "absent"},
            {"name": "all-minilm"},
            {"name": "reviewer", "from": "qwen2.5-coder:1.5b", "system": "Be strict."},
        ],
    }
    gw = {
        "url": gw_url,
        "auth": {"bearerToken": {"env": TOKEN_ENV}},
        "headers": {"X-API-Key": {"file": "secret-header.txt"}, "X-Client-ID": "orc-e2e"},
        "endpoints": GATEWAY_PATHS,
        "models": [{"name": "smollm2:135m"}, {"name": "nomic-embed-text"}],
    }
    return [
        {**head, "metadata": {"name": "ws"}, "spec": ws},
        {**head, "metadata": {"name": "gw"}, "spec": gw},
    ]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("ORC_STATE_DIR", raising=False)
    configs = [
        SimInstanceConfig("ws", models=("llama3.2:3b", "tinyllama")),
        SimInstanceConfig("gw", models=("smollm2:135m",), token=TOKEN, endpoints=GATEWAY_PATHS),
    ]
    with BackgroundFleet(configs) as fleet:
        folder = tmp_path / "manifests"
        folder.mkdir()
        (folder / "secret-header.txt").write_text(HEADER_SECRET + "\n", encoding="utf-8")
        docs = manifests(fleet.url("ws"), fleet.url("gw"))
        (folder / "fleet.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
        yield Setup(fleet, folder, tmp_path / "state")


def orc_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def orc_process(*args: str, **popen: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
        **popen,  # type: ignore[call-overload]
    )


def test_apply_converges_and_a_second_plan_finds_no_changes(setup, capsys):
    code, out, err = orc_main(capsys, "apply", *setup.args("--yes"))

    assert code == 0, out + err
    assert "Plan: 3 to pull, 1 to create, 1 to load, 1 to delete." in out
    assert SUMMARY in out
    assert "Verified: the instances touched now match the manifests." in out
    ws, gw = setup.fleet["ws"].state, setup.fleet["gw"].state
    assert set(ws.models) == WS_AFTER
    assert set(gw.models) == GW_AFTER
    assert set(ws.loaded) == {"llama3.2:3b"}
    assert ws.models["reviewer:latest"].spec.system == "Be strict."

    code, out, _ = orc_main(capsys, "plan", *setup.args("--detailed-exitcode"))

    assert code == 0
    assert "No changes. The fleet matches the manifests." in out


def test_actions_run_in_plan_order_within_an_instance(setup, capsys):
    code, out, _ = orc_main(capsys, "apply", *setup.args("--yes"))

    assert code == 0
    finished = [line for line in out.splitlines() if line.startswith("ws: ") and "... done" in line]
    kinds = [line.split()[1:3] for line in finished]
    assert kinds == [
        ["+", "pull"],
        ["+", "pull"],
        ["~", "create"],
        ["*", "load"],
        ["-", "delete"],
    ]


def test_without_a_terminal_or_yes_apply_refuses(setup):
    done = orc_process("apply", *setup.args())

    assert done.returncode == 1
    assert "--yes" in done.stderr
    assert "not a terminal" in done.stderr
    assert "Plan: 3 to pull" in done.stdout, "the plan is still shown"
    assert setup.untouched()


def run_on_terminal(args: list[str], answer: str, color: bool = False) -> tuple[int, str]:
    """Run `orc ARGS` on a pseudo-terminal, answer the prompt; (exit code, all output)."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if not color:
        env["NO_COLOR"] = "1"
    env.update(COLUMNS="120", TERM="xterm")
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    output = b""
    try:
        output += read_pty(master, until=b"Enter a value")
        os.write(master, answer.encode() + b"\n")
        output += read_pty(master, until=None)
        code = process.wait(timeout=60)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return code, ANSI.sub("", output.decode(errors="replace")).replace("\r", "")


def read_pty(fd: int, until: bytes | None, timeout: float = 60) -> bytes:
    """Read the terminal until `until` appears, or until it is closed (None)."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed
            return data
        if not chunk:
            return data
        data += chunk
        if until is not None and until in data:
            return data
    raise AssertionError(f"timed out waiting for {until!r}; got {data!r}")


def test_answering_anything_but_yes_on_a_terminal_cancels(setup):
    code, output = run_on_terminal(["apply", *setup.args()], "no")

    assert code == 0, output
    assert "Do you want to make these changes? Only 'yes' will be accepted." in output
    assert "Apply cancelled." in output
    assert "Apply complete" not in output
    assert setup.untouched()


def test_answering_yes_on_a_terminal_applies_with_progress_bars(setup):
    code, output = run_on_terminal(["apply", *setup.args()], "yes", color=True)

    assert code == 0, output
    assert SUMMARY in output
    assert set(setup.fleet["ws"].state.models) == WS_AFTER


def test_json_events_follow_the_schema(setup, capsys):
    setup.fleet["ws"].faults.drop_pull_after(10_000_000)

    code, out, err = orc_main(capsys, "apply", *setup.args("--yes", "--format", "json"))

    assert code == 0, err
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    events = [json.loads(line) for line in out.splitlines()]
    for event in events:
        validator.validate(event)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "plan"
    assert kinds[-1] == "summary"
    assert kinds.count("plan") == kinds.count("summary") == 1
    assert {"action_started", "pull_progress", "action_retry", "action_finished"} <= set(kinds)
    assert events[0]["plan"]["summary"] == "Plan: 3 to pull, 1 to create, 1 to load, 1 to delete."
    summary = events[-1]
    assert summary["message"] == SUMMARY
    assert summary["exit_code"] == 0
    assert summary["in_sync"] is True
    assert summary["counts"]["done"] == 6
    finished = [e for e in events if e["type"] == "action_finished"]
    assert len(finished) == 6
    assert all(e["outcome"] == "done" for e in finished)


def test_json_events_of_a_partial_apply(setup, capsys):
    setup.fleet["gw"].registry.remove("nomic-embed-text")

    code, out, _ = orc_main(capsys, "apply", *setup.args("--yes", "--format", "json"))

    assert code == 3
    events = [json.loads(line) for line in out.splitlines()]
    failed = [e for e in events if e["type"] == "action_finished" and e["outcome"] == "failed"]
    assert [(e["instance"], e["model"]) for e in failed] == [("gw", "nomic-embed-text:latest")]
    assert failed[0]["error"]
    assert events[-1]["exit_code"] == 3
    assert events[-1]["in_sync"] is False
    assert events[-1]["remaining"] == ["gw/pull/nomic-embed-text:latest"]


def test_no_secret_appears_in_any_output(setup, tmp_path):
    setup.fleet["gw"].registry.remove("nomic-embed-text")  # an error message to check too
    saved = tmp_path / "plan.json"
    env = {**os.environ, TOKEN_ENV: TOKEN}
    runs = [
        orc_process("plan", *setup.args("--out", str(saved), "--format", "json"), env=env),
        orc_process("apply", str(saved), "--state-dir", str(setup.state), env=env),
        orc_process("apply", *setup.args("--yes", "--format", "json"), env=env),
        orc_process("apply", *setup.args("--yes", "--traceback"), env=env),
        orc_process("apply", *setup.args("--yes"), env={**env, TOKEN_ENV: "wrong-" + TOKEN}),
    ]

    assert [r.returncode for r in runs] == [0, 3, 1, 1, 1]
    assert "Unauthorized" in runs[-1].stdout + runs[-1].stderr, "the wrong token was refused"
    assert setup.fleet["gw"].state.endpoint_count("pull") >= 1, "the token did reach gw"
    texts = [r.stdout + r.stderr for r in runs]
    texts.append(saved.read_text(encoding="utf-8"))
    texts += [p.read_bytes().decode("latin-1") for p in setup.state.rglob("*") if p.is_file()]
    for text in texts:
        assert TOKEN not in text
        assert HEADER_SECRET not in text


def test_history_records_every_action_and_its_outcome(setup, capsys):
    setup.fleet["gw"].registry.remove("nomic-embed-text")

    code, _, _ = orc_main(capsys, "apply", *setup.args("--yes"))

    assert code == 3
    records = StateDir(setup.state).history()
    assert len({r.run_id for r in records}) == 1
    outcomes = {(r.instance, r.kind, r.model): r.outcome for r in records}
    assert outcomes == {
        ("ws", "pull", "qwen2.5-coder:1.5b"): "done",
        ("ws", "pull", "all-minilm:latest"): "done",
        ("ws", "create", "reviewer:latest"): "done",
        ("ws", "load", "llama3.2:3b"): "done",
        ("ws", "delete", "tinyllama:latest"): "done",
        ("gw", "pull", "nomic-embed-text:latest"): "failed",
    }
    failed = next(r for r in records if r.outcome == "failed")
    assert failed.error is not None
    assert "not in the registry" in failed.error
    assert all(r.attempts == 1 for r in records)
    assert all(r.started_at <= r.finished_at for r in records)


def test_history_is_a_plain_sqlite_table_that_grows_per_run(setup, capsys):
    assert orc_main(capsys, "apply", *setup.args("--yes"))[0] == 0
    setup.fleet["ws"].state.remove(setup.fleet["ws"].state.models["all-minilm:latest"])
    assert orc_main(capsys, "apply", *setup.args("--yes"))[0] == 0

    with sqlite3.connect(setup.state / "state.db") as db:
        rows = db.execute(
            "SELECT run_id, instance, kind, model, outcome FROM apply_history ORDER BY id"
        ).fetchall()

    runs = list(dict.fromkeys(r[0] for r in rows))
    assert len(runs) == 2
    assert [r[1:] for r in rows if r[0] == runs[1]] == [("ws", "pull", "all-minilm:latest", "done")]


def test_json_events_when_there_is_nothing_to_do(setup, capsys):
    assert orc_main(capsys, "apply", *setup.args("--yes"))[0] == 0

    code, out, _ = orc_main(capsys, "apply", *setup.args("--yes", "--format", "json"))

    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["type"] for e in events] == ["plan", "summary"]
    assert events[-1]["in_sync"] is True


def test_json_without_yes_is_refused_before_anything_happens(setup, capsys):
    code, out, err = orc_main(capsys, "apply", *setup.args("--format", "json"))

    assert code == 1
    assert "--format json cannot ask for confirmation" in err
    assert "--yes" in err
    assert out == ""
    assert setup.untouched()


def test_a_saved_plan_cannot_be_narrowed_by_target(setup, capsys, tmp_path):
    saved = tmp_path / "plan.json"
    assert orc_main(capsys, "plan", *setup.args("--out", str(saved)))[0] == 0

    code, _, err = orc_main(
        capsys, "apply", str(saved), "--target", "ws", "--state-dir", str(setup.state)
    )

    assert code == 1
    assert "do not apply to a saved plan" in err
    assert setup.untouched()


def test_ctrl_d_at_the_prompt_cancels(setup):
    code, output = run_on_terminal(["apply", *setup.args()], "\x04")

    assert code == 0, output
    assert "Apply cancelled." in output
    assert setup.untouched()
