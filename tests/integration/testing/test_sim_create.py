"""`POST /api/create` (JSON form) on the simulator."""

from __future__ import annotations

import pytest

from reconciler.testing import CATALOG

REVIEWER = {
    "model": "reviewer",
    "from": "qwen2.5-coder:1.5b",
    "system": "You are a careful code reviewer.",
    "parameters": {"num_ctx": 8192, "temperature": 0.2, "stop": ["<|im_end|>", "END"]},
}


async def test_create_from_local_model_reports_layers_and_success(sim, lines):
    server, client = sim
    events = lines(await client.post("/api/create", json=REVIEWER))
    statuses = [e["status"] for e in events]
    base = CATALOG["qwen2.5-coder:1.5b"]
    assert statuses[0] == f"using existing layer {base.layers[0].prefixed}"
    assert any(s.startswith("creating new layer sha256:") for s in statuses)
    assert statuses[-2:] == ["writing manifest", "success"]
    assert "reviewer:latest" in server.state.models


async def test_created_model_shows_system_template_and_go_formatted_parameters(sim):
    _, client = sim
    await client.post(
        "/api/create", json={**REVIEWER, "template": "{{ .Prompt }}", "stream": False}
    )
    show = (await client.post("/api/show", json={"model": "reviewer"})).json()
    assert show["system"] == "You are a careful code reviewer."
    assert show["template"] == "{{ .Prompt }}"
    assert show["parameters"] == (
        "num_ctx                        8192\n"
        'stop                           "<|im_end|>"\n'
        'stop                           "END"\n'
        "temperature                    0.2"
    )
    assert show["details"]["parent_model"] == "qwen2.5-coder:1.5b"
    assert show["capabilities"] == ["completion"]
    tags = {m["name"]: m for m in (await client.get("/api/tags")).json()["models"]}
    assert tags["reviewer:latest"]["details"]["parent_model"] == ""


async def test_create_merges_parameters_with_the_base(sim):
    _, client = sim
    await client.post(
        "/api/create", json={"model": "long", "from": "llama3.2:3b", "parameters": {"num_ctx": 1e6}}
    )
    show = (await client.post("/api/show", json={"model": "long"})).json()
    lines = show["parameters"].split("\n")
    assert lines[0] == f"{'num_ctx':<30} 1e+06"
    assert sum(1 for line in lines if line.startswith("stop ")) == 3


async def test_same_content_gives_same_digest_and_changes_give_new_ones(make_sim):
    _, first = make_sim(name="a", models=("qwen2.5-coder:1.5b",))
    _, second = make_sim(name="b", models=("qwen2.5-coder:1.5b",))
    for client in (first, second):
        await client.post("/api/create", json={**REVIEWER, "stream": False})
    digests = [
        {m["name"]: m["digest"] for m in (await c.get("/api/tags")).json()["models"]}[
            "reviewer:latest"
        ]
        for c in (first, second)
    ]
    await first.post("/api/create", json={**REVIEWER, "system": "Be brief.", "stream": False})
    changed = {m["name"]: m["digest"] for m in (await first.get("/api/tags")).json()["models"]}
    assert digests[0] == digests[1]
    assert changed["reviewer:latest"] != digests[0]


async def test_create_pulls_a_missing_base_first(make_sim, lines):
    server, client = make_sim()
    events = lines(
        await client.post(
            "/api/create", json={"model": "mine", "from": "tinyllama", "system": "Hi."}
        )
    )
    statuses = [e["status"] for e in events]
    assert statuses[0] == "pulling manifest"
    assert statuses.index("verifying sha256 digest") < statuses.index("success") < len(statuses) - 1
    assert statuses[-1] == "success"
    assert set(server.state.models) == {"tinyllama:latest", "mine:latest"}


async def test_create_from_unknown_model_fails_mid_stream_or_with_500(make_sim, lines):
    _, client = make_sim()
    body = {"model": "mine", "from": "no-such-model"}
    streamed = await client.post("/api/create", json=body)
    assert streamed.status_code == 200
    assert lines(streamed)[-1] == {"error": "pull model manifest: file does not exist"}
    plain = await client.post("/api/create", json={**body, "stream": False})
    assert (plain.status_code, plain.json()) == (
        500,
        {"error": "pull model manifest: file does not exist"},
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"model": "mine"}, "neither 'from' or 'files' was specified"),
        ({"model": "Bad!", "from": "tinyllama"}, "invalid model name"),
        ({"model": "mine", "from": "Bad!"}, "invalid model name"),
        (
            {"model": "mine", "files": {"/abs.gguf": "sha256:" + "a" * 64}},
            "file path must be relative: /abs.gguf",
        ),
        ({"model": "mine", "files": {"m.gguf": "sha256:zz"}}, "invalid digest format"),
    ],
)
async def test_create_request_errors_are_400(sim, body, error):
    _, client = sim
    reply = await client.post("/api/create", json=body)
    assert (reply.status_code, reply.json()) == (400, {"error": error})


async def test_create_from_files_uses_a_blob_on_the_server(sim):
    _, client = sim
    weights = CATALOG["llama3.2:3b"].layers[0].prefixed
    reply = await client.post(
        "/api/create", json={"model": "fromfile", "files": {"model.gguf": weights}, "stream": False}
    )
    unknown = await client.post(
        "/api/create",
        json={"model": "x", "files": {"m.gguf": "sha256:" + "b" * 64}, "stream": False},
    )
    assert reply.json() == {"status": "success"}
    assert unknown.status_code == 400
    assert unknown.json()["error"].startswith("blob not found for m.gguf")


async def test_quantize_an_f16_model(make_sim, lines):
    server, client = make_sim(models=("smollm2:135m",))
    events = lines(
        await client.post(
            "/api/create", json={"model": "q", "from": "smollm2:135m", "quantize": "q4_K_M"}
        )
    )
    quantizing = [e for e in events if e["status"] == "quantizing F16 model to Q4_K_M"]
    assert quantizing[-1]["completed"] == quantizing[-1]["total"]
    assert "completed" not in quantizing[0]
    model = server.state.models["q:latest"]
    assert model.spec.quantization == "Q4_K_M"
    assert model.size < server.state.models["smollm2:135m"].size


async def test_quantize_errors(sim):
    _, client = sim
    bad_type = await client.post(
        "/api/create", json={"model": "q", "from": "llama3.2:3b", "quantize": "q5_x"}
    )
    not_f16 = await client.post(
        "/api/create", json={"model": "q", "from": "llama3.2:3b", "quantize": "q8_0"}
    )
    assert bad_type.status_code == 400
    assert bad_type.json()["error"].startswith("unsupported quantization type q5_x")
    assert (not_f16.status_code, not_f16.json()) == (
        400,
        {"error": "quantization is only supported for F16 and F32 models"},
    )


async def test_create_with_messages_and_license(sim):
    _, client = sim
    body = {
        "model": "m",
        "from": "llama3.2:3b",
        "license": ["MIT", "Apache"],
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        "stream": False,
    }
    assert (await client.post("/api/create", json=body)).status_code == 200
    show = (await client.post("/api/show", json={"model": "m"})).json()
    assert show["license"] == "MIT\nApache"
    assert show["messages"] == body["messages"]
