"""`HEAD` and `POST /api/blobs/<digest>`: checking for and pushing a blob, as Ollama does.

`HEAD` answers 200 when the blob is on disk (pushed, or a complete layer of an installed model)
and 404 otherwise; a digest that is not `sha256:<64 hex>` (or `sha256-`) is 400
`invalid digest format`. `POST` stores the body when the sha256 of its bytes is the digest
(201), refuses a mismatch with 400 `digest mismatch, expected "...", got "..."`, and answers 200
at once, without reading the body, when the blob is already there. Pushed blobs are what
`/api/create` with `files` builds models from (`testing/creation.py`).
"""

from __future__ import annotations

import hashlib
import re

from starlette.requests import Request
from starlette.responses import Response

from reconciler.testing.config import SimContext
from reconciler.testing.responses import error_response

PREFIX = "/api/blobs/"
_DIGEST = re.compile(r"^sha256[:-][0-9a-fA-F]{64}$")


def has_blob(ctx: SimContext, hex_digest: str) -> bool:
    """Whether a whole blob of that bare hex digest is on the server's disk."""
    if hex_digest in ctx.state.uploads:
        return True
    layers = (blob for model in ctx.state.models.values() for blob in model.spec.blobs)
    return any(blob.digest == hex_digest and ctx.state.has_blob(blob) for blob in layers)


async def blob(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`HEAD` or `POST /api/blobs/<digest>`."""
    digest = request.url.path.rsplit("/", 1)[-1]
    if not _DIGEST.match(digest):
        return error_response("invalid digest format", 400)
    hex_digest = digest[7:]  # the file name keeps the case: an upper-case digest is another file
    if request.method == "HEAD":
        if has_blob(ctx, hex_digest):
            return Response(b"", status_code=200)
        return error_response(f'blob "{digest}" not found', 404)
    if has_blob(ctx, hex_digest):
        return Response(b"", status_code=200)
    got = f"sha256:{hashlib.sha256(body).hexdigest()}"
    if got != digest:
        return error_response(f'digest mismatch, expected "{digest}", got "{got}"', 400)
    ctx.state.uploads[hex_digest] = len(body)
    return Response(b"", status_code=201)
