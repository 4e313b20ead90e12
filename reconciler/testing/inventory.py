"""Handlers of the simulator's inventory endpoints: health, version, tags, show, ps, pull,
delete, copy and the OpenAI-compatible model list.

Every handler takes the server context, the Starlette request and its raw body, and answers as
Ollama does (status codes and error strings of docs/ollama-api.md).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from reconciler import names
from reconciler.testing import views
from reconciler.testing.bodies import BadRequest, decode
from reconciler.testing.config import SimContext
from reconciler.testing.goformat import go_quote
from reconciler.testing.pulls import pull_events
from reconciler.testing.responses import error_response, json_response, respond, text_response

INVALID_NAME = "invalid model name"


async def health(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`GET /`: the liveness text."""
    return text_response("Ollama is running")


async def version(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`GET /api/version`."""
    return json_response({"version": ctx.config.version})


async def tags(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`GET /api/tags`."""
    return json_response(views.tags(list(ctx.state.models.values()), ctx.zone, ctx.config.version))


async def ps(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`GET /api/ps`: runners being unloaded too, and those of deleted models."""
    residency = ctx.state.runners
    return json_response(
        views.ps(ctx.state.listed, ctx.zone, ctx.config.version, vram=residency.vram)
    )


async def show(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`POST /api/show`."""
    req = decode(body, "ShowRequest")
    raw = req.get("model") or req.get("name") or ""
    if not raw:
        raise BadRequest("model is required")
    parsed = parse_or_400(raw)
    model = ctx.state.find(parsed)
    if model is None:
        shown = parsed.display if views.version_tuple(ctx.config.version) >= (0, 30, 0) else raw
        return error_response(f"model '{shown}' not found", 404)
    reply = views.show(
        model,
        ctx.zone,
        verbose=bool(req.get("verbose")),
        system=req.get("system", ""),
        version=ctx.config.version,
    )
    return json_response(reply)


async def pull(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`POST /api/pull`: streamed progress, or the last status with `stream: false`."""
    req = decode(body, "PullRequest")
    parsed = parse_or_400(req.get("model") or req.get("name") or "")
    drop_after = ctx.faults.take_drop()
    events = pull_events(ctx.state, ctx.registry, ctx.downloads, parsed, drop_after)
    return await respond(events, stream=req.get("stream", True))


async def delete(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`DELETE /api/delete`: 200 with an empty body; a runner of the model stays loaded."""
    req = decode(body, "DeleteRequest")
    raw = req.get("model") or req.get("name") or ""
    if not raw:
        raise BadRequest("model is required")
    try:
        parsed = names.parse(raw)
    except names.InvalidModelName as exc:
        raise BadRequest(f"name {go_quote(raw)} is invalid") from exc
    model = ctx.state.find(parsed)
    if model is None:
        return error_response(f"model '{raw}' not found", 404)
    ctx.state.remove(model)
    return Response(b"", status_code=200)


async def copy(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`POST /api/copy`: 200 with an empty body; the destination is overwritten silently."""
    req = decode(body, "CopyRequest")
    source, destination = req.get("source", ""), req.get("destination", "")
    src_name = _parse_labelled(source, "source")
    dst_name = _parse_labelled(destination, "destination")
    model = ctx.state.find(src_name)
    if model is None:
        return error_response(f"model {go_quote(source)} not found", 404)
    if src_name != dst_name:
        ctx.state.install(dst_name, model.spec)
    return Response(b"", status_code=200)


async def v1_models(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`GET /v1/models`."""
    return json_response(views.v1_models(list(ctx.state.models.values())))


async def v1_model(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`GET /v1/models/{model}`: one model, or an OpenAI-style 404."""
    raw = request.path_params.get("model", "")
    model = ctx.state.find(raw)
    if model is None:
        return json_response(views.openai_error(f"model '{raw}' not found", 404), 404)
    return json_response(views.v1_model(model))


def parse_or_400(raw: str) -> names.ModelName:
    """Parse a model name; an invalid one is 400 `invalid model name`."""
    try:
        return names.parse(raw)
    except names.InvalidModelName as exc:
        raise BadRequest(INVALID_NAME) from exc


def _parse_labelled(raw: str, label: str) -> names.ModelName:
    try:
        return names.parse(raw)
    except names.InvalidModelName as exc:
        raise BadRequest(f"{label} {go_quote(raw)} is invalid") from exc
