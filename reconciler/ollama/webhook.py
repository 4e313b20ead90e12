"""POSTing a notification to a webhook: the one other use of httpx, kept beside the client.

httpx lives in this package only (docs/architecture.md, Where each library lives). A webhook is
not an Ollama server, so this is a separate, small sender: one JSON POST, redirects never
followed (a redirect could carry the body elsewhere), a deadline over the whole exchange, and
errors that name the host only: a webhook URL (Slack's, Teams') is a credential in its path.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from reconciler.errors import ReconcilerError

USER_AGENT = "ollama-reconciler-notify"


class WebhookError(ReconcilerError):
    """A notification was not accepted; `transient`: trying again later may work."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def webhook_host(url: str) -> str:
    """The host of a webhook URL, the only part of it that is ever shown."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


async def post_webhook(url: str, body: bytes, seconds: float) -> None:
    """POST `body` (JSON) to `url` within `seconds`; raises `WebhookError`."""
    host = webhook_host(url)
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise WebhookError(f"webhook {host}: the url is not an http or https url", transient=False)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    try:
        async with (
            httpx.AsyncClient(follow_redirects=False, timeout=seconds) as http,
            asyncio.timeout(seconds),
        ):
            reply = await http.post(url, content=body, headers=headers)
    except (TimeoutError, httpx.TimeoutException):
        message = f"webhook {host}: no answer within {seconds:g}s"
        raise WebhookError(message, transient=True) from None
    except httpx.HTTPError as exc:
        raise WebhookError(
            f"webhook {host}: {type(exc).__name__} (could not deliver)", transient=True
        ) from None
    except ValueError:  # httpx refuses a malformed URL
        raise WebhookError(f"webhook {host}: the url is not valid", transient=False) from None
    status = reply.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise WebhookError(
            f"webhook {host}: answered {status} (a redirect, which is not followed)",
            transient=False,
        )
    transient = status == 429 or status >= 500
    raise WebhookError(f"webhook {host}: answered {status}", transient=transient)
