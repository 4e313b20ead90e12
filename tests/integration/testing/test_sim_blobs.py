"""The simulator's blob endpoints and `/api/create` with `files`, as Ollama answers them."""

from __future__ import annotations

import hashlib

from reconciler.testing.catalog import CATALOG

DATA = b"GGUF\x03\x00\x00\x00" + b"w" * 2000
DIGEST = f"sha256:{hashlib.sha256(DATA).hexdigest()}"


async def test_head_is_404_until_the_blob_is_pushed_then_200(make_sim):
    server, client = make_sim()
    missing = await client.head(f"/api/blobs/{DIGEST}")
    pushed = await client.post(f"/api/blobs/{DIGEST}", content=DATA)
    present = await client.head(f"/api/blobs/{DIGEST}")
    again = await client.post(f"/api/blobs/{DIGEST}", content=b"not read")

    assert (missing.status_code, missing.content) == (404, b"")
    assert pushed.status_code == 201
    assert present.status_code == 200
    assert again.status_code == 200  # already there: the body is not even checked
    assert server.state.uploads == {DIGEST[7:]: len(DATA)}


async def test_the_layers_of_an_installed_model_are_blobs_too(make_sim):
    _, client = make_sim(models=("llama3.2:3b",))
    weights = CATALOG["llama3.2:3b"].layers[0].prefixed
    assert (await client.head(f"/api/blobs/{weights}")).status_code == 200


async def test_a_push_whose_bytes_do_not_match_the_digest_is_400(make_sim):
    server, client = make_sim()
    reply = await client.post(f"/api/blobs/{DIGEST}", content=DATA + b"x")
    got = f"sha256:{hashlib.sha256(DATA + b'x').hexdigest()}"
    assert reply.status_code == 400
    assert reply.json() == {"error": f'digest mismatch, expected "{DIGEST}", got "{got}"'}
    assert server.state.uploads == {}


async def test_a_malformed_digest_is_400(make_sim):
    _, client = make_sim()
    for method in ("HEAD", "POST"):
        reply = await client.request(method, "/api/blobs/sha256:1234", content=b"")
        assert reply.status_code == 400


async def test_create_from_a_pushed_gguf_uses_that_blob_as_its_weights(make_sim, lines):
    server, client = make_sim()
    await client.post(f"/api/blobs/{DIGEST}", content=DATA)
    reply = await client.post("/api/create", json={"model": "mine", "files": {"m.gguf": DIGEST}})
    events = lines(reply)
    show = await client.post("/api/show", json={"model": "mine"})

    assert events[0] == {"status": "parsing GGUF"}
    assert events[1] == {"status": f"using existing layer {DIGEST}"}
    assert events[-1] == {"status": "success"}
    assert f"FROM /root/.ollama/models/blobs/sha256-{DIGEST[7:]}\n" in show.json()["modelfile"]
    assert server.state.find("mine") is not None


async def test_create_with_a_digest_the_server_never_received_fails(make_sim, lines):
    server, client = make_sim()
    refused = await client.post(
        "/api/create", json={"model": "mine", "files": {"m.bin": DIGEST}, "stream": False}
    )
    streamed = await client.post("/api/create", json={"model": "mine", "files": {"m.gguf": DIGEST}})

    assert refused.status_code == 400
    assert refused.json()["error"].startswith("blob not found for m.bin")
    assert streamed.status_code == 200  # `parsing GGUF` went out first: the error is a line
    assert lines(streamed)[-1]["error"].startswith("blob not found for m.gguf")
    assert server.state.find("mine") is None
