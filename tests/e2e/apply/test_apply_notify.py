"""`orc apply --notify` over real sockets: the Fleet's receiver hears what the run did."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reconciler.testing import SimInstanceConfig


class _Recorder(ThreadingHTTPServer):
    status = 200
    bodies: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[_Recorder]:
    server = _Recorder(("127.0.0.1", 0), _Handler)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _hook() -> dict[str, Any]:
    return {"url": {"env": "ORC_E2E_WEBHOOK"}, "name": "ops"}


@pytest.fixture
def webhook(receiver: _Recorder, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/sekrit-0123456789"
    monkeypatch.setenv("ORC_E2E_WEBHOOK", url)
    return url


def test_applied_changes_are_told_only_with_notify(sim, orc_main, receiver, webhook):
    s = sim([SimInstanceConfig("a")])
    s.settings(notifications=[_hook()])
    s.declare("a", ["tinyllama"])

    code, _, _ = orc_main("apply", *s.args("--yes"))
    assert code == 0
    assert receiver.bodies == [], "without --notify nobody is told"

    s.fleet["a"].state.models.clear()
    code, _, err = orc_main("apply", *s.args("--yes", "--notify"))
    assert code == 0, err
    [body] = receiver.bodies
    assert body["source"] == "orc apply"
    assert [(e["kind"], e["instance"]) for e in body["events"]] == [("applied", "a")]
    assert body["events"][0]["details"] == ["a/pull/tinyllama:latest"]


def test_a_refused_plan_is_told(sim, orc_main, receiver, webhook):
    s = sim([SimInstanceConfig("a", models=("tinyllama:latest",))])
    s.settings(notifications=[_hook()])
    s.declare("a", [{"name": "tinyllama", "state": "absent"}])

    code, _, err = orc_main("apply", *s.args("--yes", "--notify"))

    assert code == 1
    assert "allowEmpty" in err
    [body] = receiver.bodies
    assert [e["kind"] for e in body["events"]] == ["refused"]


def test_a_failing_receiver_is_a_warning_that_never_shows_the_url(sim, orc_main, receiver, webhook):
    receiver.status = 404
    s = sim([SimInstanceConfig("a")])
    s.settings(notifications=[_hook()])
    s.declare("a", ["tinyllama"])

    code, out, err = orc_main("apply", *s.args("--yes", "--notify"))

    assert code == 0, "a notification never changes the run's exit code"
    assert "warning: notification to receiver ops (127.0.0.1) failed: " in err
    assert "answered 404" in err
    assert "sekrit" not in out + err
