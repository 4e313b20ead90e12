"""Masking secrets in every text that leaves the client: messages, details, hints, previews.

A server or proxy that echoes the request back shows the credentials in whatever encoding its
body uses, so each secret is masked in every form it can take there: as sent, base64 (the
`Authorization: Basic` header, tokens some proxies decode or encode), JSON-escaped (Go escapes
`<`, `>` and `&` too), HTML-escaped and percent-encoded. The secret values themselves come from
`ClientConfig.secrets()`: the token, secret headers, any header whose name says it carries
credentials, and the password of the URL.

Masking must never garble a message, which would also reveal the secret letter by letter: values
of 8 characters or more are masked wherever they occur, values of 4 to 7 characters only as a
whole word, and shorter ones not at all (manifest validation refuses secrets that short). See
docs/security.md, Secrets in output.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_ANYWHERE = 8
"""Secrets (and encoded forms) at least this long are masked wherever they occur."""
MIN_WORD = 4
"""Shorter forms, down to this length, are masked only where they stand as a word of their own."""

_WORD_CHAR = "A-Za-z0-9"


def encoded_forms(secret: str) -> set[str]:
    """`secret` and the forms an echoing server may show it in."""
    import html  # loaded by the first secret: a fleet without any never needs it

    raw = secret.encode("utf-8", "surrogatepass")
    json_text = json.dumps(secret)[1:-1]
    go_json = json_text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    forms = {
        secret,
        json_text,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        go_json,
        html.escape(secret),
        html.escape(secret, quote=False),
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        repr(secret)[1:-1],
        repr(raw)[2:-1],
    }
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms |= {text, text.rstrip("=")}
    return {form for form in forms if form}


class Redactor:
    """Replaces every secret of one config, in any of its encoded forms, with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            forms |= encoded_forms(secret)
        self._anywhere = tuple(sorted((f for f in forms if len(f) >= MIN_ANYWHERE), key=len))
        words = sorted((f for f in forms if MIN_WORD <= len(f) < MIN_ANYWHERE), key=len)
        alternatives = "|".join(re.escape(word) for word in reversed(words))
        self._words = (
            re.compile(rf"(?<![{_WORD_CHAR}])(?:{alternatives})(?![{_WORD_CHAR}])")
            if words
            else None
        )

    def __call__(self, text: str) -> str:
        spans = list(self._spans(text))
        if not spans:
            return text
        spans.sort()
        pieces: list[str] = []
        done = 0
        for start, end in spans:
            if end <= done:
                continue
            if start >= done:
                pieces.append(text[done:start])
                pieces.append(MASK)
            done = end
        pieces.append(text[done:])
        return "".join(pieces)

    def _spans(self, text: str) -> Iterable[tuple[int, int]]:
        """Where any form occurs, overlapping occurrences included (their union is masked)."""
        for form in self._anywhere:
            start = text.find(form)
            while start != -1:
                yield start, start + len(form)
                start = text.find(form, start + 1)
        if self._words is not None:
            for match in self._words.finditer(text):
                yield match.span()
