"""The daemon's dashboard and Test chat over ASGI: who may chat, what is bounded, what streams.

The watch record holds the desired fleet of conftest.py; the Test chat's `Fleet` reaches the
simulated servers in process. Hostile requests come first: another site's page, a rebound host
name, a form post that is not JSON, a missing or wrong token, oversized bodies.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from reconciler.chat import Fleet
from reconciler.desired import DesiredFleet
from reconciler.report.html import ChatAccess
from reconciler.watch import WatchMetrics, WatchRecord, make_app
from reconciler.watch.http import chat_access, loopback
from reconciler.watch.testchat import MAX_BODY, TestChats

from .conftest import TOKEN, Sim, desired_fleet

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
HOOK = "hook-SECRET-93be1f"
JSON = {"content-type": "application/json"}
ASK = {"model": "llama3.2:3b", "prompt": "Introduce yourself in one sentence."}


def record(desired: DesiredFleet | None) -> WatchRecord:
    made = WatchRecord((), "apply", 60.0, 0.0, NOW)
    made.desired = desired
    made.refresh(NOW)
    return made


def chats_for(sim: Sim, rec: WatchRecord, **options: Any) -> TestChats:
    def fleet(desired: DesiredFleet) -> Fleet:
        return Fleet(
            desired, client_factory=sim.factory, env={"GPU_B_TOKEN": TOKEN}, clock=sim.clock
        )

    return TestChats(lambda: rec.desired, fleet, **options)


def client(
    rec: WatchRecord,
    chats: TestChats | None,
    access: ChatAccess,
    *,
    token: str | None = None,
    base: str = "http://127.0.0.1:9464",
) -> httpx.AsyncClient:
    app = make_app(
        rec, WatchMetrics(), lambda: None, lambda: 0.0, token, chats=chats, access=access
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)


def events(reply: httpx.Response) -> list[dict[str, Any]]:
    assert reply.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in reply.text.splitlines() if line.strip()]


@pytest.fixture
def served(sim: Sim) -> Callable[..., httpx.AsyncClient]:
    rec = record(desired_fleet())

    def make(access: ChatAccess = ChatAccess.OPEN, **kw: Any) -> httpx.AsyncClient:
        return client(rec, chats_for(sim, rec), access, **kw)

    return make


async def test_chat_from_another_site_is_refused(served: Callable[..., httpx.AsyncClient]) -> None:
    async with served() as http:
        evil = {**JSON, "origin": "http://evil.example"}
        reply = await http.post("/chat", json=ASK, headers=evil)
        assert reply.status_code == 403
        assert "own page" in reply.json()["error"]
        as_form = await http.post(
            "/chat", content=json.dumps(ASK), headers={"content-type": "text/plain"}
        )
        assert as_form.status_code == 415, "a cross-site form can send text/plain unasked"


async def test_a_rebound_host_name_gets_no_chat_on_loopback(
    served: Callable[..., httpx.AsyncClient],
) -> None:
    async with served(base="http://rebound.example:9464") as http:
        reply = await http.post("/chat", json=ASK, headers=JSON)
    assert reply.status_code == 403
    assert "loopback" in reply.json()["error"]


async def test_chat_is_off_without_loopback_or_token(
    served: Callable[..., httpx.AsyncClient],
) -> None:
    async with served(ChatAccess.OFF, base="http://10.0.0.5:9464") as http:
        reply = await http.post("/chat", json=ASK, headers=JSON)
        page = (await http.get("/")).text
    assert reply.status_code == 403
    assert "ORC_WEBHOOK_TOKEN" in reply.json()["error"]
    assert re.search(r'<fieldset id="chat-fields" disabled>', page)


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"bearer {HOOK}", HOOK], ids=str
)
async def test_token_access_wants_the_exact_bearer_token(
    served: Callable[..., httpx.AsyncClient], authorization: str | None
) -> None:
    headers = dict(JSON)
    if authorization is not None:
        headers["authorization"] = authorization
    async with served(ChatAccess.TOKEN, token=HOOK, base="http://10.0.0.5:9464") as http:
        reply = await http.post("/chat", json=ASK, headers=headers)
    assert reply.status_code == 403
    assert HOOK not in reply.text


async def test_token_access_chats_with_the_token(served: Callable[..., httpx.AsyncClient]) -> None:
    headers = {**JSON, "authorization": f"Bearer {HOOK}"}
    async with served(ChatAccess.TOKEN, token=HOOK, base="http://10.0.0.5:9464") as http:
        reply = await http.post("/chat", json=ASK, headers=headers)
        page = (await http.get("/")).text
    assert reply.status_code == 200
    assert events(reply)[-1]["type"] == "done"
    assert 'type="password"' in page
    assert HOOK not in page


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"prompt": "hi"}).encode(), 400, "model is missing"),
        (json.dumps({"model": "llama3.2:3b"}).encode(), 400, "prompt is missing"),
        (json.dumps({"model": "Bad Name!", "prompt": "hi"}).encode(), 400, "model:"),
        (json.dumps({"model": "llama3.2:3b", "prompt": "x" * 4001}).encode(), 400, "4000"),
        (b"{" + b" " * MAX_BODY + b"}", 413, "larger than"),
    ],
    ids=["not-json", "not-object", "no-model", "no-prompt", "bad-name", "long-prompt", "huge"],
)
async def test_bad_bodies_are_refused_with_the_reason(
    served: Callable[..., httpx.AsyncClient], body: bytes, status: int, says: str
) -> None:
    async with served() as http:
        reply = await http.post("/chat", content=body, headers=JSON)
    assert reply.status_code == status
    assert says in reply.json()["error"]


async def test_chat_streams_the_reply_from_the_best_instance(
    served: Callable[..., httpx.AsyncClient], sim: Sim
) -> None:
    async with served() as http:
        reply = await http.post(
            "/chat", json=ASK, headers={**JSON, "origin": "http://127.0.0.1:9464"}
        )
    assert reply.status_code == 200
    lines = events(reply)
    chunks = [e for e in lines if e["type"] == "chunk"]
    assert len(chunks) > 3, "the reply arrives in several chunks"
    assert {c["instance"] for c in chunks} == {"gpu-a"}, "priority 1 answers"
    done = lines[-1]
    assert done["type"] == "done"
    assert done["instance"] == "gpu-a"
    assert done["metrics"]["time_to_first_token_ms"] is not None
    assert "content" not in done, "the text was streamed already"
    assert sim.chats("gpu-a") == 1


async def test_chat_fails_over_and_says_so(
    served: Callable[..., httpx.AsyncClient], sim: Sim
) -> None:
    sim.down.add("gpu-a")
    async with served() as http:
        reply = await http.post("/chat", json=ASK, headers=JSON)
    done = events(reply)[-1]
    assert done["instance"] == "gpu-b"
    assert [f["instance"] for f in done["failovers"]] == ["gpu-a"]
    assert TOKEN not in reply.text


async def test_no_instance_is_an_error_line_naming_the_reasons(
    served: Callable[..., httpx.AsyncClient],
) -> None:
    async with served() as http:
        reply = await http.post("/chat", json={**ASK, "model": "phi3:mini"}, headers=JSON)
    assert reply.status_code == 200
    (line,) = events(reply)
    assert line["type"] == "error"
    assert "phi3:mini" in line["error"]


async def test_no_desired_fleet_yet_is_503(sim: Sim) -> None:
    rec = record(None)
    async with client(rec, chats_for(sim, rec), ChatAccess.OPEN) as http:
        reply = await http.post("/chat", json=ASK, headers=JSON)
    assert reply.status_code == 503


async def test_one_chat_per_client_and_a_small_cap_in_all(sim: Sim) -> None:
    rec = record(desired_fleet())
    chats = chats_for(sim, rec, max_running=2)
    assert chats.admit("10.0.0.1") is None
    async with client(rec, chats, ChatAccess.OPEN) as http:
        # ASGI requests come from 127.0.0.1; a chat of theirs is running:
        assert chats.admit("127.0.0.1") is None
        reply = await http.post("/chat", json=ASK, headers=JSON)
        assert reply.status_code == 429
        assert "still running" in reply.json()["error"]
        chats.release("127.0.0.1")
        assert chats.admit("10.0.0.2") is None
        reply = await http.post("/chat", json=ASK, headers=JSON)
        assert reply.status_code == 429
        assert "2 Test chats" in reply.json()["error"]
        chats.release("10.0.0.2")
        chats.release("10.0.0.1")
        reply = await http.post("/chat", json=ASK, headers=JSON)
        assert reply.status_code == 200
    assert chats.running == 0, "the finished chat gave its place back"


async def test_a_client_gone_mid_reply_gives_its_place_back(sim: Sim) -> None:
    gpu_a = sim.servers["gpu-a"]
    rec = record(desired_fleet())
    chats = chats_for(sim, rec)
    app = make_app(
        rec, WatchMetrics(), lambda: None, lambda: 0.0, chats=chats, access=ChatAccess.OPEN
    )
    sent: list[bytes] = []
    gone = asyncio.Event()
    body = json.dumps(ASK).encode()
    received = iter([{"type": "http.request", "body": body, "more_body": False}])

    async def receive() -> dict[str, Any]:
        message = next(received, None)
        if message is not None:
            return message
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            sent.append(message["body"])
            gone.set()  # the reader leaves after the first line

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/chat",
        "raw_path": b"/chat",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:9464"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 9464),
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    assert sent, "the first chunk went out"
    assert chats.running == 0
    assert gpu_a.state.endpoints.count("chat") == 1


async def test_page_is_served_with_a_fresh_nonce_and_a_strict_policy(
    served: Callable[..., httpx.AsyncClient],
) -> None:
    async with served() as http:
        first, second = await http.get("/"), await http.get("/")
    nonces = []
    for reply in (first, second):
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/html")
        assert reply.headers["cache-control"] == "no-store"
        assert reply.headers["x-content-type-options"] == "nosniff"
        policy = reply.headers["content-security-policy"]
        assert policy.startswith("default-src 'none'")
        nonce = re.search(r"script-src 'nonce-([^']+)'", policy)
        assert nonce
        assert f'<script nonce="{nonce.group(1)}">' in reply.text
        nonces.append(nonce.group(1))
    assert nonces[0] != nonces[1]
    for name in ("gpu-a", "gpu-b", "emb", "off"):
        assert f'id="instance-{name}"' in first.text


@pytest.mark.parametrize(
    ("host", "token", "access"),
    [
        ("127.0.0.1", None, ChatAccess.OPEN),
        ("localhost", None, ChatAccess.OPEN),
        ("localhost", HOOK, ChatAccess.TOKEN),  # behind a proxy every visitor is on loopback
        ("::1", None, ChatAccess.OPEN),
        ("0.0.0.0", None, ChatAccess.OFF),
        ("", HOOK, ChatAccess.TOKEN),
        ("::", None, ChatAccess.OFF),
        ("192.0.2.7", HOOK, ChatAccess.TOKEN),
        ("192.0.2.7", None, ChatAccess.OFF),
        ("no-such-host.invalid", None, ChatAccess.OFF),
    ],
)
def test_chat_access_follows_the_listen_address(
    host: str, token: str | None, access: ChatAccess
) -> None:
    assert chat_access(host, token) is access
    assert loopback(host) is (host in {"127.0.0.1", "localhost", "::1"})
