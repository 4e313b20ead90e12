"""What our client makes of every fault the simulator can inject, over a real socket.

One test (or table row) per fault kind of `reconciler.testing.faults`: `fail_next` with each
status family, `malformed_next`, `empty_403_next`, `stall_next` against a client timeout and
`drop_pull_after`; each asserts the error class, the transient flag and the message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from reconciler.ollama import (
    ModelNameRejected,
    ModelNotFound,
    ModelNotInRegistry,
    OllamaClient,
    OllamaError,
    OllamaTimeout,
    OllamaUnauthorized,
    OllamaUnreachable,
    ProtocolError,
    RequestRejected,
    ServerBusy,
    ServerError,
)
from reconciler.testing import SimFleet

Operation = Callable[[OllamaClient], Awaitable[Any]]
GARBAGE = "<html><body><h1>502 Bad Gateway</h1>upstream sent garbage</body></html>"


async def _pull(client: OllamaClient, model: str = "smollm2:135m") -> list[str]:
    return [p.status async for p in client.pull(model)]


async def _chat(client: OllamaClient) -> str:
    result = await client.chat_complete("llama3.2:3b", [{"role": "user", "content": "hi"}])
    return result.content


OPERATIONS: dict[str, tuple[str, str, Operation]] = {
    # key: (path the fault is put on, how the message starts, the call)
    "version": ("/api/version", "plain: version failed", lambda c: c.version()),
    "list": ("/api/tags", "plain: list models failed", lambda c: c.list_models()),
    "show": ("/api/show", "plain/llama3.2:3b: show failed", lambda c: c.show("llama3.2:3b")),
    "ps": ("/api/ps", "plain: list running models failed", lambda c: c.running()),
    "pull": ("/api/pull", "plain/smollm2:135m: pull failed", _pull),
    "delete": (
        "/api/delete",
        "plain/llama3.2:3b: delete failed",
        lambda c: c.delete("llama3.2:3b"),
    ),
    "chat": ("/api/chat", "plain/llama3.2:3b: chat failed", _chat),
}

FAIL_NEXT = [
    # operation, status, server message, error class, transient, summary
    ("list", 500, "boom", ServerError, True, "the server reported an error (HTTP 500)"),
    ("version", 502, "bad gateway", ServerError, True, "the server reported an error (HTTP 502)"),
    ("list", 503, "server busy", ServerBusy, True, "the server is busy (HTTP 503)"),
    ("ps", 429, "too many requests", ServerBusy, True, "the server is busy (HTTP 429)"),
    ("version", 504, "gateway timeout", OllamaTimeout, True, "the request timed out (HTTP 504)"),
    (
        "show",
        404,
        "model 'llama3.2:3b' not found",
        ModelNotFound,
        False,
        "model not found (HTTP 404)",
    ),
    (
        "delete",
        404,
        "model 'llama3.2:3b' not found",
        ModelNotFound,
        False,
        "model not found (HTTP 404)",
    ),
    ("list", 404, "not here", RequestRejected, False, "the server rejected the request (HTTP 404)"),
    (
        "show",
        400,
        "invalid model name",
        ModelNameRejected,
        False,
        "invalid model name (HTTP 400)",
    ),
    (
        "chat",
        400,
        '"llama3.2:3b" does not support chat',
        RequestRejected,
        False,
        "the server rejected the request (HTTP 400)",
    ),
    ("pull", 500, "boom", ServerError, True, "the server reported an error (HTTP 500)"),
    (
        "pull",
        500,
        "pull model manifest: file does not exist",
        ModelNotInRegistry,
        False,
        "smollm2:135m is not in the registry",
    ),
    (
        "list",
        401,
        "unauthorized",
        OllamaUnauthorized,
        False,
        "the server wants credentials (HTTP 401)",
    ),
    ("list", 403, "forbidden", OllamaUnauthorized, False, "access denied (HTTP 403)"),
]


@pytest.mark.parametrize(
    ("operation", "status", "said", "kind", "transient", "summary"),
    FAIL_NEXT,
    ids=[f"{row[0]}-{row[1]}-{row[3].__name__}" for row in FAIL_NEXT],
)
async def test_fail_next_becomes_the_matching_error(
    connect,
    fleet: SimFleet,
    operation: str,
    status: int,
    said: str,
    kind: type[OllamaError],
    transient: bool,
    summary: str,
) -> None:
    path, start, call = OPERATIONS[operation]
    client = connect("plain")
    fleet["plain"].faults.fail_next(status=status, message=said, path=path)
    with pytest.raises(kind) as caught:
        await call(client)
    error = caught.value
    assert type(error) is kind
    assert str(error).startswith(f"{start}: {summary}; server said: {said}")
    assert (error.status, error.transient, error.instance) == (status, transient, "plain")
    await call(client)  # the fault is used up: the same call now succeeds


async def test_fail_next_n_fails_that_many_requests_then_recovers(connect, fleet: SimFleet) -> None:
    client = connect("plain")
    fleet["plain"].faults.fail_next(2, status=503, message="server busy")
    for _ in range(2):
        with pytest.raises(ServerBusy):
            await client.version()
    assert await client.version() == "0.12.6"


async def test_a_fault_on_one_path_leaves_the_others_alone(connect, fleet: SimFleet) -> None:
    client = connect("plain")
    fleet["plain"].faults.fail_next(status=500, path="/api/show")
    assert len(await client.list_models()) == 2
    assert await client.version() == "0.12.6"
    with pytest.raises(ServerError):
        await client.show("nomic-embed-text")


async def test_cleared_faults_no_longer_apply(connect, fleet: SimFleet) -> None:
    faults = fleet["plain"].faults
    faults.fail_next(3, status=500)
    faults.stall_next(1, seconds=30.0)
    faults.clear()
    assert await connect("plain", timeout=1.0).version() == "0.12.6"


async def test_a_fault_behind_a_path_prefix_reaches_the_client(connect, fleet: SimFleet) -> None:
    client = connect("proxied")
    fleet["proxied"].faults.fail_next(status=503, message="server busy", path="/ollama/api/tags")
    with pytest.raises(ServerBusy, match=r"^proxied: list models failed: the server is busy"):
        await client.list_models()
    assert [m.name for m in await client.list_models()] == ["qwen2.5-coder:1.5b"]


@pytest.mark.parametrize("operation", ["version", "list", "show", "ps"])
async def test_a_malformed_reply_is_a_permanent_protocol_error(
    connect, fleet: SimFleet, operation: str
) -> None:
    path, start, call = OPERATIONS[operation]
    fleet["plain"].faults.malformed_next(path=path)
    with pytest.raises(ProtocolError) as caught:
        await call(connect("plain"))
    error = caught.value
    assert str(error) == (
        f"{start}: the reply is not JSON: {GARBAGE!r} "
        "(check that url and endpoints of this instance point at an Ollama server)"
    )
    assert error.transient is False


@pytest.mark.parametrize("operation", ["pull", "chat"])
async def test_a_malformed_streamed_reply_is_a_permanent_protocol_error(
    connect, fleet: SimFleet, operation: str
) -> None:
    path, start, call = OPERATIONS[operation]
    fleet["plain"].faults.malformed_next(path=path)
    with pytest.raises(ProtocolError) as caught:
        await call(connect("plain"))
    assert str(caught.value).startswith(f"{start}: the reply is not JSON: '<html>")
    assert caught.value.transient is False
    assert fleet["plain"].state.find("smollm2:135m") is None  # a failed pull installs nothing


async def test_an_empty_403_is_explained_as_the_host_header_guard(connect, fleet: SimFleet) -> None:
    fleet["plain"].faults.empty_403_next()
    with pytest.raises(OllamaUnauthorized) as caught:
        await connect("plain").list_models()
    error = caught.value
    assert str(error) == (
        "plain: list models failed: HTTP 403 with an empty body: Ollama's Host-header guard "
        "refused the request, as it does behind a proxy that passes its own Host on "
        "(a proxy in front of Ollama must rewrite the Host header to localhost:11434, e.g. nginx "
        "`proxy_set_header Host localhost:11434`; or let Ollama listen on 0.0.0.0)"
    )
    assert (error.status, error.transient) == (403, False)


async def test_a_stall_longer_than_the_timeout_is_a_transient_timeout(
    connect, fleet: SimFleet
) -> None:
    fleet["plain"].faults.stall_next(1, seconds=30.0, path="/api/tags")
    with pytest.raises(OllamaTimeout) as caught:
        await connect("plain", timeout=0.3).list_models()
    error = caught.value
    assert str(error) == (
        f"plain: list models failed: no reply from {fleet.url('plain')}/api/tags within 0.3s "
        "(raise spec.timeout, or spec.pullTimeout for pulls, if the server is just slow)"
    )
    assert error.transient is True


async def test_a_stall_shorter_than_the_timeout_is_just_slow(connect, fleet: SimFleet) -> None:
    fleet["plain"].faults.stall_next(1, seconds=0.05)
    assert await connect("plain", timeout=5.0).version() == "0.12.6"


async def test_a_stalled_pull_times_out_on_inactivity(connect, fleet: SimFleet) -> None:
    fleet["plain"].faults.stall_next(1, seconds=30.0, path="/api/pull")
    with pytest.raises(OllamaTimeout) as caught:
        await _pull(connect("plain", timeout=0.3))
    assert str(caught.value).startswith(
        "plain/smollm2:135m: pull failed: the server sent nothing for 0.3s"
    )
    assert caught.value.transient is True
    assert fleet["plain"].state.find("smollm2:135m") is None


async def test_a_dropped_pull_is_transient_and_the_next_pull_resumes(
    connect, fleet: SimFleet
) -> None:
    server = fleet["plain"]
    client = connect("plain")
    server.faults.drop_pull_after(100_000_000)
    with pytest.raises(OllamaUnreachable) as caught:
        await _pull(client, "smollm2:135m")
    error = caught.value
    assert str(error).startswith(
        f"plain/smollm2:135m: pull failed: the connection to {fleet.url('plain')}/api/pull was lost"
    )
    assert error.transient is True
    assert server.state.find("smollm2:135m") is None

    progress = [p async for p in client.pull("smollm2:135m")]
    first_download = next(p for p in progress if p.status.startswith("pulling ") and p.total)
    assert first_download.completed >= 100_000_000  # resumed, not started over
    assert progress[-1].status == "success"
    assert server.state.find("smollm2:135m") is not None


async def test_an_error_inside_a_pull_stream_is_not_in_registry(connect, fleet: SimFleet) -> None:
    with pytest.raises(ModelNotInRegistry) as caught:
        await _pull(connect("plain"), "no-such-model:1b")
    error = caught.value
    assert str(error).startswith(
        "plain/no-such-model:1b: pull failed: no-such-model:1b is not in the registry; "
        "server said: pull model manifest: file does not exist"
    )
    assert (error.status, error.transient) == (None, False)
