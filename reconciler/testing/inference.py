"""Handlers of the simulator's inference endpoints: generate, chat, embed (and legacy embeddings).

Checks run in Ollama's order (Ollama's `server/routes.go`): body, name, existence, unload
(`keep_alive: 0` with no prompt), raw-mode and thinking checks, capabilities, then load (with the
instance's `load_delay` when the model is not in memory), then preload replies or generation.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from reconciler.testing import output
from reconciler.testing.bodies import BadRequest, decode, think_enabled
from reconciler.testing.config import SimContext
from reconciler.testing.generation import Ask, embedding, tokenize
from reconciler.testing.goformat import go_quote
from reconciler.testing.inventory import parse_or_400
from reconciler.testing.responses import error_response, json_response, respond
from reconciler.testing.state import InstalledModel


async def generate(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`POST /api/generate`."""
    started = time.monotonic_ns()
    req = decode(body, "GenerateRequest")
    _check_logprobs(req)
    raw = req.get("model", "")
    if not raw:
        return error_response("model '' not found", 404)
    model = _installed(ctx, raw)
    prompt, keep_alive = req.get("prompt", ""), req.get("keep_alive")
    if not prompt and keep_alive == 0:
        ctx.state.unload(model)
        return json_response(output.preload_reply(raw, "unload", chat=False))
    if req.get("raw") and (req.get("template") or req.get("system") or req.get("context")):
        raise BadRequest("raw mode does not support template, system, or context")
    think = _think(model, req, raw)
    _require(model, "completion", f"{go_quote(raw)} does not support generate")
    if req.get("suffix"):
        _require(model, "insert", f"{model.name.full} does not support insert")
    load_ns = await _load(ctx, model, req)
    if not prompt:
        return json_response(output.preload_reply(raw, "load", chat=False))
    system = req.get("system") or model.spec.system
    ask = Ask(
        raw, model.spec, prompt, f"{system}\n{prompt}", think, _options(req), req.get("format")
    )
    run = output.Run(
        ctx, model, raw, started_ns=started, load_ns=load_ns, keep_alive=keep_alive, chat=False
    )
    await ctx.slots.enter()
    events = ctx.slots.holding(run.events(ask))
    return await respond(events, stream=req.get("stream", True), combine=run.combine)


async def chat(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`POST /api/chat`."""
    started = time.monotonic_ns()
    req = decode(body, "ChatRequest")
    _check_logprobs(req)
    raw = req.get("model", "")
    if not raw:
        raise BadRequest("model is required")
    model = _installed(ctx, raw)
    messages, keep_alive = req.get("messages", []), req.get("keep_alive")
    if not messages and keep_alive == 0:
        ctx.state.unload(model)
        return json_response(output.preload_reply(raw, "unload", chat=True))
    think = _think(model, req, raw)
    _require(model, "completion", f"{go_quote(raw)} does not support chat")
    tools = req.get("tools") or []
    if tools:
        _require(model, "tools", f"{model.name.full} does not support tools")
    load_ns = await _load(ctx, model, req)
    if not messages:
        return json_response(output.preload_reply(raw, "load", chat=True))
    ask = _chat_ask(raw, model, think, req)
    run = output.Run(
        ctx, model, raw, started_ns=started, load_ns=load_ns, keep_alive=keep_alive, chat=True
    )
    await ctx.slots.enter()
    events = ctx.slots.holding(run.events(ask))
    return await respond(events, stream=req.get("stream", True), combine=run.combine)


async def embed(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`POST /api/embed`: L2-normalised vectors; no input just loads the model."""
    started = time.monotonic_ns()
    req = decode(body, "EmbedRequest")
    raw = req.get("model", "")
    if not raw:
        return error_response("model '' not found", 404)
    parse_or_400(raw)
    inputs = _embed_inputs(req.get("input"))
    model = _installed(ctx, raw)
    load_ns = await _load(ctx, model, req)
    if not inputs:
        return json_response({"model": raw, "embeddings": []})
    await asyncio.sleep(ctx.config.first_token_delay)
    dims = model.spec.embedding_length
    wanted = req.get("dimensions", 0)
    size = wanted if 0 < wanted < dims else dims
    return json_response(
        {
            "model": raw,
            "embeddings": [embedding(text, size) for text in inputs],
            "total_duration": max(1, time.monotonic_ns() - started),
            "load_duration": load_ns,
            "prompt_eval_count": sum(len(tokenize(text)) for text in inputs),
        }
    )


async def embeddings(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`POST /api/embeddings` (legacy): one vector for `prompt`."""
    req = decode(body, "EmbeddingRequest")
    raw = req.get("model", "")
    if not raw:
        raise BadRequest("model is required")
    model = ctx.state.find(parse_or_400(raw))
    if model is None:
        return error_response(f"model {go_quote(raw)} not found, try pulling it first", 404)
    await _load(ctx, model, req)
    prompt = req.get("prompt", "")
    vector = embedding(prompt, model.spec.embedding_length) if prompt else []
    return json_response({"embedding": vector})


def _installed(ctx: SimContext, raw: str) -> InstalledModel:
    model = ctx.state.find(parse_or_400(raw))
    if model is None:
        raise BadRequest(f"model '{raw}' not found", status=404)
    return model


def _check_logprobs(req: dict[str, Any]) -> None:
    if not 0 <= req.get("top_logprobs", 0) <= 20:
        raise BadRequest("top_logprobs must be between 0 and 20")


def _think(model: InstalledModel, req: dict[str, Any], raw: str) -> bool:
    if "thinking" in model.spec.capabilities:
        return think_enabled(req.get("think", True))
    if think_enabled(req.get("think")):
        raise BadRequest(f"{go_quote(raw)} does not support thinking")
    return False


def _require(model: InstalledModel, capability: str, message: str) -> None:
    if capability not in model.spec.capabilities:
        raise BadRequest(message)


def _options(req: dict[str, Any]) -> dict[str, Any]:
    options = req.get("options") or {}
    return dict(options) if isinstance(options, dict) else {}


async def _load(ctx: SimContext, model: InstalledModel, req: dict[str, Any]) -> int:
    """Load (or refresh) the model's runner; nanoseconds spent loading."""
    began = time.monotonic_ns()
    if not ctx.state.is_loaded(model) and ctx.config.load_delay:
        await asyncio.sleep(ctx.config.load_delay)
    num_ctx = _options(req).get("num_ctx")
    ctx.state.load(
        model, req.get("keep_alive"), int(num_ctx) if isinstance(num_ctx, int | float) else None
    )
    return max(1000, time.monotonic_ns() - began)


def _embed_inputs(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise BadRequest("invalid input type")


def _chat_ask(raw: str, model: InstalledModel, think: bool, req: dict[str, Any]) -> Ask:
    messages: list[Any] = req["messages"]
    texts = [str(m.get("content") or "") for m in messages]
    user = next(
        (str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), ""
    )
    system = "" if messages[0].get("role") == "system" else model.spec.system
    prompt = "\n".join([system, *texts])
    tools = req.get("tools") or []
    return Ask(raw, model.spec, user, prompt, think, _options(req), req.get("format"), tools)
