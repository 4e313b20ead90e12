"""`POST /api/create` (JSON form): build a model from another one, as Ollama does.

The base model (`from`) is pulled first when it is missing (its pull lines appear in the stream).
The new model keeps the base's layers and replaces the template, system prompt, license or
messages given; parameters are merged (the request's win). Layers are reported as `using
existing layer` or `creating new layer`, then `writing manifest` and `success`. The new digest
follows from the content, so creating the same thing twice gives the same digest.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from reconciler import names
from reconciler.testing.bodies import BadRequest, decode
from reconciler.testing.config import SimContext
from reconciler.testing.inventory import INVALID_NAME, parse_or_400
from reconciler.testing.pulls import pull_events
from reconciler.testing.responses import Event, StreamError, respond
from reconciler.testing.spec import ModelSpec, parameters_tuple

QUANTIZE_TYPES = {"Q4_K_M": 0.3, "Q4_K_S": 0.29, "Q8_0": 0.53, "F16": 1.0, "F32": 2.0}
_DIGEST = re.compile(r"^sha256[:-][0-9a-fA-F]{64}$")


async def create(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`POST /api/create`."""
    req = decode(body, "CreateRequest")
    target = parse_or_400(req.get("model") or req.get("name") or "")
    base_name = _base_name(req)
    quantize = _quantize(req.get("quantize") or req.get("quantization") or "")
    events = _create_events(ctx, target, base_name, req, quantize)
    return await respond(events, stream=req.get("stream", True))


def _base_name(req: dict[str, Any]) -> names.ModelName | None:
    files = req.get("files") or {}
    for path, digest in files.items():
        if path.startswith("/") or ".." in path.split("/") or "\\" in path:
            raise BadRequest(f"file path must be relative: {path}")
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise BadRequest("invalid digest format")
    if req.get("from"):
        try:
            return names.parse(req["from"])
        except names.InvalidModelName as exc:
            raise BadRequest(INVALID_NAME) from exc
    if files:
        return None
    raise BadRequest("neither 'from' or 'files' was specified")


def _quantize(value: str) -> str:
    if not value:
        return ""
    wanted = value.upper()
    if wanted not in QUANTIZE_TYPES:
        raise BadRequest(
            f"unsupported quantization type {value} - "
            "supported types are F32, F16, Q4_K_S, Q4_K_M, Q8_0"
        )
    return wanted


async def _create_events(
    ctx: SimContext,
    target: names.ModelName,
    base_name: names.ModelName | None,
    req: dict[str, Any],
    quantize: str,
) -> AsyncGenerator[Event, None]:
    base: ModelSpec | StreamError | None
    if base_name is None:
        files = req.get("files") or {}
        if any(name.endswith(".gguf") for name in files):
            yield {"status": "parsing GGUF"}
        base, parent = _from_files(ctx, files), ""
    else:
        installed = ctx.state.find(base_name)
        base, parent = (installed.spec, installed.display) if installed else (None, "")
    if base is None and base_name is not None:  # pull the base first, its lines in our stream
        async for event in pull_events(ctx.state, ctx.registry, ctx.downloads, base_name, None):
            yield event
            if isinstance(event, StreamError):
                return
        pulled = ctx.state.find(base_name)
        base, parent = (pulled.spec, pulled.display) if pulled else (None, "")
    if not isinstance(base, ModelSpec):
        yield base or StreamError(f"model '{base_name}' not found")
        return
    if quantize and base.quantization not in ("F16", "F32"):
        yield StreamError("quantization is only supported for F16 and F32 models", 400)
        return
    spec = derive(base, req, parent, quantize)
    if quantize:
        for line in _quantize_lines(base, quantize):
            yield line
    for layer in spec.layers:
        existing = ctx.state.has_blob(layer) or layer.digest in ctx.state.uploads
        verb = "using existing" if existing else "creating new"
        yield {"status": f"{verb} layer {layer.prefixed}"}
    yield {"status": "writing manifest"}
    ctx.state.install(target, spec)
    yield {"status": "success"}


def _from_files(ctx: SimContext, files: dict[str, str]) -> ModelSpec | StreamError:
    """A model built from a weights blob on the server: one pushed with `POST /api/blobs`, or
    the weights of an installed model.

    A blob the server does not have is refused (400 before any output; for a `.gguf` name the
    stream has said `parsing GGUF` already, so then it is an error line, as in Ollama).
    """
    for path, digest in sorted(files.items()):
        wanted = digest[7:]
        if wanted in ctx.state.uploads:
            return _uploaded(path, wanted, ctx.state.uploads[wanted])
        owner = next(
            (m for m in ctx.state.models.values() if m.spec.layers[0].digest == wanted), None
        )
        if owner is not None:
            return replace(owner.spec, parent_model="")
        return StreamError(f"blob not found for {path} (digest {digest})", 400)
    return StreamError("no files provided to convert", 400)


def _uploaded(path: str, hex_digest: str, size: int) -> ModelSpec:
    """The spec of a model whose weights are a pushed GGUF file (a small llama-like model)."""
    stem = path.rsplit("/", 1)[-1].removesuffix(".gguf") or "model"
    return ModelSpec(
        weights_seed=f"upload:{hex_digest}",
        family="llama",
        parameter_size="1B",
        parameter_count=1_000_000_000,
        quantization="Q4_K_M",
        weights_size=size,
        context_length=4096,
        embedding_length=2048,
        weights_digest=hex_digest,
        extra_info=(("general.name", stem),),
    )


def derive(base: ModelSpec, req: dict[str, Any], parent: str, quantize: str) -> ModelSpec:
    """The spec of a model created from `base` with the request's overrides."""
    parameters = base.parameter_map
    parameters.update(req.get("parameters") or {})
    license_value = req.get("license")
    licenses = base.license
    if isinstance(license_value, str) and license_value:
        licenses = (license_value,)
    elif isinstance(license_value, list) and license_value:
        licenses = tuple(str(item) for item in license_value)
    messages = base.messages
    if req.get("messages"):
        messages = tuple(
            (str(m.get("role", "")), str(m.get("content", ""))) for m in req["messages"]
        )
    changes: dict[str, Any] = {
        "template": req.get("template") or base.template,
        "system": req.get("system") or base.system,
        "license": licenses,
        "messages": messages,
        "parameters": parameters_tuple(parameters),
        "parent_model": parent,
    }
    if quantize:
        ratio = QUANTIZE_TYPES[quantize] / QUANTIZE_TYPES[base.quantization]
        changes.update(
            quantization=quantize,
            weights_size=int(base.weights_size * ratio),
            weights_seed=f"{base.weights_seed}@{quantize}",
        )
    return replace(base, **changes)


def _quantize_lines(base: ModelSpec, quantize: str) -> list[dict[str, Any]]:
    status = f"quantizing {base.quantization} model to {quantize}"
    total = base.weights_size
    lines: list[dict[str, Any]] = [
        {"status": status, "digest": "0000000000000000000", "total": total}
    ]
    for done in (total // 2, total):
        lines.append(
            {"status": status, "digest": "0000000000000000000", "total": total, "completed": done}
        )
    return lines
