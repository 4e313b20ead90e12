"""The registry side of the simulator: `GET /v2/<namespace>/<model>/manifests/<tag>`.

Answers as registry.ollama.ai does: the manifest JSON of the tag with its digest in
`Docker-Content-Digest` (the sha256 of those exact bytes, which is also the digest `/api/tags`
shows once the model is pulled), or 404 with a registry error body for an unknown tag. Point
`orc` at it with `ORC_REGISTRY_URL` (or a `RegistryLookup(base_url=...)`); move a tag with
`Registry.move_tag(name)` to publish a newer build.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from reconciler.testing.config import SimContext
from reconciler.testing.responses import json_response
from reconciler.testing.spec import MANIFEST_MEDIA_TYPE

PREFIX = "/v2/"


def manifest_path(path: str) -> tuple[str, str, str] | None:
    """(namespace, model, tag) of `/v2/<ns>/<model>/manifests/<tag>`, or None."""
    parts = path[len(PREFIX) :].split("/") if path.startswith(PREFIX) else []
    if len(parts) == 4 and parts[2] == "manifests" and all(parts):
        return parts[0], parts[1], parts[3]
    return None


async def manifest(ctx: SimContext, request: Request, body: bytes) -> Response:
    """`GET /v2/<namespace>/<model>/manifests/<tag>`."""
    found = manifest_path(request.url.path.removeprefix(ctx.config.path_prefix))
    if found is None:
        return json_response({"errors": [{"code": "NAME_UNKNOWN"}]}, 404)
    namespace, model, tag = found
    spec = ctx.registry.get(f"{namespace}/{model}:{tag}")
    if spec is None:
        error = {"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}
        return json_response({"errors": [error]}, 404)
    raw = json.dumps(spec.manifest, separators=(",", ":")).encode()
    headers = {"Docker-Content-Digest": f"sha256:{spec.digest}"}
    return Response(raw, media_type=MANIFEST_MEDIA_TYPE, headers=headers)
