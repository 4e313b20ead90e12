"""The fleet as one HTML page: `orc status --format html` and the page `orc watch --listen` serves.

Pure: the status document in, an HTML string out. The tables are rendered here, on the server,
so the file works without a script (for CI artifacts and e-mail); the served page adds one
script, allowed by a per-response nonce, that refreshes the sections and runs the Test chat.
The page loads nothing from anywhere: styles, script, icon and charts are inline, and its
Content-Security-Policy says so. Server texts are hostile input and are escaped
(html_values.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler._version import __version__
from reconciler.report.html_activity import activity
from reconciler.report.html_assets import CSS, ICON, SCRIPT
from reconciler.report.html_sections import health, models, summary
from reconciler.report.html_values import esc, items, mapping, moment, strings, text

MAX_PROMPT = 4000  # characters of a Test chat prompt
DEFAULT_PROMPT = "Introduce yourself in one sentence."
REFRESH_SECONDS = 5
TOKEN_ENV = "ORC_WEBHOOK_TOKEN"
FILE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class ChatAccess(StrEnum):
    """Whether the served page's Test chat works: `open` on loopback, `token` with the webhook
    token, `off` otherwise."""

    OPEN = "open"
    TOKEN = "token"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class LivePage:
    """What the page `orc watch` serves adds: the script's nonce, the Test chat, the refresh."""

    nonce: str
    chat: ChatAccess
    refresh: int = REFRESH_SECONDS


def content_security_policy(nonce: str) -> str:
    """The served page's policy: nothing from elsewhere, only its own script, fetches to itself."""
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def render_status_html(document: Mapping[str, Any], *, live: LivePage | None = None) -> str:
    """The whole page for `document` (the `/status` or `orc status --format json` document)."""
    fleet = mapping(document.get("fleet"))
    title = f"orc · {text(fleet.get('name')) or 'fleet'} · {text(fleet.get('health')) or '?'}"
    policy = "" if live else f'<meta http-equiv="Content-Security-Policy" content="{FILE_POLICY}">'
    sections = [health(document), models(document), activity(document)]
    body_data = f' data-refresh="{live.refresh}"' if live else ""
    indicator = '<span id="live" class="live chip mute">live</span>' if live else ""
    script = f'<script nonce="{esc(live.nonce)}">{SCRIPT}</script>' if live else ""
    if live:
        sections.append(chat_section(document, live.chat))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f'{policy}<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)}</title>"
        f'<link rel="icon" href="{ICON}"><style>{CSS}</style></head>'
        f"<body{body_data}>{indicator}{summary(document, moment(document.get('generated_at')))}"
        f"<main>{''.join(sections)}</main>"
        f"<footer>ollama-reconciler {esc(__version__)}</footer>{script}</body></html>\n"
    )


def chat_models(document: Mapping[str, Any]) -> list[str]:
    """The model names the Test chat offers: installed somewhere, able to chat, sorted."""
    found = set()
    for model in items(document.get("models")):
        name = text(model.get("model"))
        caps = strings(model.get("capabilities"))
        if name and model.get("embedding") is not True and (not caps or "completion" in caps):
            found.add(name)
    return sorted(found)


def chat_section(document: Mapping[str, Any], access: ChatAccess) -> str:
    """The Test chat form; disabled, with the reason, when the page may not chat."""
    options = "".join(f'<option value="{esc(m)}">{esc(m)}</option>' for m in chat_models(document))
    disabled = " disabled" if access is ChatAccess.OFF else ""
    token = (
        '<label>Webhook token (kept in this page only)<input type="password" name="token" '
        'autocomplete="off" spellcheck="false" required></label>'
        if access is ChatAccess.TOKEN
        else ""
    )
    note = (
        '<p class="meta">The Test chat is off: this page is not served on a loopback address '
        f"and {TOKEN_ENV} is not set. Listen on 127.0.0.1, or set {TOKEN_ENV} and enter it "
        "here, to chat.</p>"
        if access is ChatAccess.OFF
        else '<p class="meta">Chooses the instance as <code>orc chat-test</code> does.</p>'
    )
    return (
        '<section id="chat"><h2>Test chat</h2>'
        f'<form id="chat-form" data-access="{access}" autocomplete="off">'
        f'<fieldset id="chat-fields"{disabled}>'
        f'<label>Model<select name="model" required>{options}</select></label>{token}'
        f'<label>Prompt<textarea name="prompt" maxlength="{MAX_PROMPT}" required>'
        f"{esc(DEFAULT_PROMPT)}</textarea></label>"
        '<button type="submit">Send</button></fieldset></form>'
        f'{note}<p id="chat-meta" class="meta" aria-live="polite"></p>'
        '<pre id="chat-reply"></pre></section>'
    )
