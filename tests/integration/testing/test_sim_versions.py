"""The simulator answers show as the version it plays would (docs/ollama-api.md, Versions)."""

from __future__ import annotations

import httpx
import pytest

from reconciler.testing import SimInstanceConfig, SimServer


@pytest.mark.parametrize(
    ("version", "tensors", "capabilities"),
    [
        ("0.5.0", False, None),
        ("0.6.2", True, None),
        ("0.8.0", True, ["completion"]),
        ("0.12.6", True, ["completion", "thinking"]),
    ],
)
async def test_show_fields_follow_the_server_version(
    version: str, tensors: bool, capabilities: list[str] | None
) -> None:
    server = SimServer(SimInstanceConfig("s", models=("deepseek-r1:7b",), version=version))
    transport = httpx.ASGITransport(app=server.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
        reply = (await client.post("/api/show", json={"model": "deepseek-r1:7b"})).json()
    assert ("tensors" in reply) is tensors
    assert reply.get("capabilities") == capabilities
    assert "model_info" in reply
