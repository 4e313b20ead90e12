"""The HTML dashboard renderer: hostile server data stays text, figures show when present.

Everything a server says (model names, versions, error messages, capabilities) and everything a
colleague's history figures may carry is untrusted: the page is parsed back with the standard
library's HTML parser and must contain no element, attribute or script that the input brought.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from reconciler.desired import DesiredFleet
from reconciler.observed import ObservedFleet
from reconciler.report import build_status, render_status_html
from reconciler.report.html import ChatAccess, LivePage, content_security_policy

SCRIPT = "<script>alert('pwned')</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
NONCE = "n0nce-TEST-1234"


class Page(HTMLParser):
    """The elements, attributes and text of a rendered page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())

    def by_id(self, ident: str) -> dict[str, str | None]:
        found = [attrs for _, attrs in self.tags if attrs.get("id") == ident]
        assert len(found) == 1, f"expected one element with id {ident!r}"
        return found[0]


@pytest.fixture
def document(desired: DesiredFleet, observed: ObservedFleet, now: datetime) -> dict[str, Any]:
    return build_status(desired, observed, now).to_dict(models=True)


def hostile(document: dict[str, Any]) -> dict[str, Any]:
    """The document with attacker-controlled text in every field a server or history fills."""
    doc = copy.deepcopy(document)
    gpu = next(i for i in doc["instances"] if i["name"] == "gpu-1")
    gpu["version"] = SCRIPT
    gpu["message"] = BREAKOUT
    gpu["health"] = "Degraded"
    gpu["reason"] = SCRIPT
    gpu["lastError"] = {"reason": BREAKOUT, "message": SCRIPT, "at": BREAKOUT}
    gpu["latency"] = {"p50Ms": SCRIPT, "p95Ms": 12.0, "series": [[SCRIPT, 5], ["x", BREAKOUT]]}
    gpu["uptime"] = BREAKOUT
    gpu["chat"] = {"requests": SCRIPT, "successRate": BREAKOUT, "meanTtftMs": None}
    gpu["checked_at"] = BREAKOUT
    model = doc["models"][0]
    model["model"] = BREAKOUT
    model["capabilities"] = [SCRIPT, BREAKOUT]
    model["quantization"] = SCRIPT
    model["family"] = BREAKOUT
    model["loaded_until"] = SCRIPT
    model["loaded"] = True
    doc["fleet"]["name"] = SCRIPT
    doc["fleet"]["health"] = BREAKOUT
    doc["lastReconcile"] = {
        "number": 1,
        "trigger": SCRIPT,
        "result": BREAKOUT,
        "message": SCRIPT,
        "startedAt": BREAKOUT,
        "time": SCRIPT,
        "durationSeconds": BREAKOUT,
    }
    doc["recentApplies"] = [
        {
            "runId": SCRIPT,
            "startedAt": SCRIPT,
            "finishedAt": BREAKOUT,
            "instance": SCRIPT,
            "kind": BREAKOUT,
            "model": SCRIPT,
            "outcome": BREAKOUT,
            "error": SCRIPT,
            "attempts": BREAKOUT,
            "seconds": SCRIPT,
        }
    ]
    doc["conditions"] = [
        {"type": SCRIPT, "status": BREAKOUT, "reason": SCRIPT, "message": BREAKOUT}
    ]
    doc["manifests"] = {
        "valid": False,
        "revision": BREAKOUT,
        "paths": [SCRIPT],
        "diagnostics": [{"text": SCRIPT}],
    }
    doc["pendingDeletions"] = [{"instance": SCRIPT, "model": BREAKOUT, "dueAt": SCRIPT}]
    return doc


@pytest.mark.parametrize("live", [False, True], ids=["standalone", "served"])
def test_hostile_server_text_never_becomes_markup(document: dict[str, Any], live: bool) -> None:
    page_text = render_status_html(
        hostile(document), live=LivePage(NONCE, ChatAccess.OPEN) if live else None
    )
    page = Page(page_text)
    assert page.named("img") == [], "an <img> came from the input"
    for tag, attrs in page.tags:
        handlers = [a for a in attrs if a.startswith("on")]
        assert not handlers, f"<{tag}> has event handler attributes {handlers}"
        for name, value in attrs.items():
            assert "alert" not in (value or "") or name in {"title", "value"}, (tag, name)
    scripts = page.named("script")
    assert len(scripts) == (1 if live else 0)
    assert all(s.get("nonce") == NONCE for s in scripts)
    assert not any("pwned" in s or "onerror" in s for s in page.scripts)
    assert SCRIPT not in page_text
    assert BREAKOUT not in page_text
    # the hostile text is shown, as text
    assert "<script>alert('pwned')</script>" in page.words
    assert '"><img src=x onerror=alert(1)>' in page.words


def test_mistyped_figures_show_a_dash_never_a_guess(document: dict[str, Any]) -> None:
    doc = copy.deepcopy(document)
    gpu = next(i for i in doc["instances"] if i["name"] == "gpu-1")
    gpu["uptime"] = "0.5"  # a string, not a share
    gpu["latency_ms"] = "42"
    gpu["latency"] = {"p50Ms": True, "p95Ms": float("nan"), "series": "30,40"}
    gpu["chat"] = {"requests": True, "successRate": 1.5}
    gpu["checked_at"] = "yesterday"
    row = _row_text(render_status_html(doc), "instance-gpu-1")
    for guess in ("50 %", "42 ms", "p50", "p95", "chats", "150", "ago", "nan"):
        assert guess not in row, f"{guess!r} shown from a mistyped figure"
    assert row.count("—") >= 5


def test_secrets_never_appear(
    desired: DesiredFleet,
    observed: ObservedFleet,
    now: datetime,
    secret_values: tuple[str, ...],
) -> None:
    document = build_status(desired, observed, now).to_dict(models=True)
    for live in (None, LivePage(NONCE, ChatAccess.TOKEN)):
        text = render_status_html(document, live=live)
        for secret in secret_values:
            assert secret not in text


def test_every_instance_and_model_is_shown_with_its_figures(document: dict[str, Any]) -> None:
    page = Page(render_status_html(document))
    words = page.words
    for inst in document["instances"]:
        page.by_id(f"instance-{inst['name']}")
    for model in document["models"]:
        assert model["model"] in words
    assert "Unreachable" in words
    assert "cannot connect to http://dev-box:11434: connection refused" in words
    assert "42 ms" in words  # gpu-1's latency
    assert "2.0 GB" in words  # llama3.2:3b's size
    assert "131072" in words  # its context length
    assert "forever" in words  # cloud-1 keeps llama3.2 loaded for ever
    assert "Q4_K_M" in words


def test_history_figures_are_rendered_when_present_and_dashed_when_absent(
    document: dict[str, Any],
) -> None:
    doc = copy.deepcopy(document)
    gpu = next(i for i in doc["instances"] if i["name"] == "gpu-1")
    gpu["uptime"] = 0.987
    gpu["latency"] = {
        "p50Ms": 40.2,
        "p95Ms": 97.6,
        "series": [
            ["2025-06-01T11:50:00+00:00", 30.0],
            ["2025-06-01T11:55:00+00:00", 90.0],
            ["2025-06-01T12:00:00+00:00", 42.0],
        ],
    }
    gpu["lastError"] = {
        "reason": "Unreachable",
        "message": "connection refused",
        "at": "2025-06-01T11:30:00+00:00",
    }
    gpu["chat"] = {"requests": 12, "successRate": 0.75, "meanTtftMs": 210.4}
    page_text = render_status_html(doc)
    page = Page(page_text)
    gpu_row = _row_text(page_text, "instance-gpu-1")
    assert "98.7 %" in gpu_row
    assert "p50 40 ms" in gpu_row
    assert "p95 98 ms" in gpu_row
    assert "Unreachable: connection refused" in gpu_row
    assert "30m ago" in gpu_row
    assert "12 chats" in gpu_row
    assert "75 % ok" in gpu_row
    assert "210 ms" in gpu_row
    assert len(page.named("polyline")) == 1, "one sparkline, for gpu-1"
    cloud_row = _row_text(page_text, "instance-cloud-1")
    assert cloud_row.count("—") >= 3, "uptime, trend and chats are absent for cloud-1"


def test_sparkline_points_follow_time_and_value(document: dict[str, Any]) -> None:
    doc = copy.deepcopy(document)
    gpu = next(i for i in doc["instances"] if i["name"] == "gpu-1")
    gpu["latency"] = {
        "series": [
            ["2025-06-01T11:00:00+00:00", 0.0],
            ["2025-06-01T11:30:00+00:00", 100.0],
            ["2025-06-01T12:00:00+00:00", 50.0],
        ]
    }
    page = Page(render_status_html(doc))
    (line,) = page.named("polyline")
    points = [tuple(map(float, p.split(","))) for p in (line["points"] or "").split()]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert xs[0] < xs[1] < xs[2]
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1])
    assert ys[1] < ys[2] < ys[0], "higher latency is drawn higher (smaller y)"


def test_activity_lists_reconciles_and_applies_newest_first(document: dict[str, Any]) -> None:
    doc = copy.deepcopy(document)
    doc["recentReconciles"] = [
        _reconcile(1, "startup", "applied", "2025-06-01T11:00:00+00:00"),
        _reconcile(2, "interval", "synced", "2025-06-01T11:05:00+00:00"),
    ]
    doc["lastReconcile"] = doc["recentReconciles"][-1]
    doc["recentApplies"] = [
        _apply("gpu-1", "pull", "llama3.2:3b", "done", None, "2025-06-01T11:00:01+00:00"),
        _apply("gpu-1", "delete", "old:7b", "failed", "HTTP 500", "2025-06-01T11:00:02+00:00"),
    ]
    text = _section_text(render_status_html(doc), "activity")
    assert text.index("interval") < text.index("startup")
    assert text.index("old:7b") < text.index("llama3.2:3b")
    assert "HTTP 500" in text
    assert "failed" in text


def test_standalone_page_has_no_script_and_a_strict_policy(document: dict[str, Any]) -> None:
    text = render_status_html(document)
    page = Page(text)
    assert page.named("script") == []
    (meta,) = [m for m in page.named("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in (meta["content"] or "")
    assert "script-src" not in (meta["content"] or "")
    assert page.named("section")[-1].get("id") == "activity", "no Test chat in the file"
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", text, re.IGNORECASE)
    assert "prefers-color-scheme: dark" in text
    assert 'name="viewport"' in text


def test_served_page_policy_and_chat_access(document: dict[str, Any]) -> None:
    policy = content_security_policy(NONCE)
    assert "default-src 'none'" in policy
    assert f"script-src 'nonce-{NONCE}'" in policy
    assert "connect-src 'self'" in policy
    assert "style-src 'unsafe-inline'" in policy

    page_open = Page(render_status_html(document, live=LivePage(NONCE, ChatAccess.OPEN)))
    assert page_open.by_id("chat-form").get("data-access") == "open"
    assert "disabled" not in page_open.by_id("chat-fields")
    assert not [i for i in page_open.named("input") if i.get("type") == "password"]

    page_token = Page(render_status_html(document, live=LivePage(NONCE, ChatAccess.TOKEN)))
    (password,) = [i for i in page_token.named("input") if i.get("type") == "password"]
    assert password.get("autocomplete") == "off"
    assert "disabled" not in page_token.by_id("chat-fields")

    page_off = Page(render_status_html(document, live=LivePage(NONCE, ChatAccess.OFF)))
    assert "disabled" in page_off.by_id("chat-fields")
    assert "ORC_WEBHOOK_TOKEN" in page_off.words


def test_chat_models_are_the_models_that_can_chat(document: dict[str, Any]) -> None:
    page = Page(render_status_html(document, live=LivePage(NONCE, ChatAccess.OPEN)))
    options = [o.get("value") for o in page.named("option")]
    assert "llama3.2:3b" in options
    assert "nomic-embed-text:latest" not in options, "an embedding model cannot chat"
    assert options == sorted(set(options))


def _reconcile(number: int, trigger: str, result: str, at: str) -> dict[str, Any]:
    return {
        "number": number,
        "trigger": trigger,
        "result": result,
        "message": f"{trigger} reconcile",
        "startedAt": at,
        "time": at,
        "durationSeconds": 0.25,
    }


def _apply(
    instance: str, kind: str, model: str, outcome: str, error: str | None, at: str
) -> dict[str, Any]:
    return {
        "runId": "r1",
        "startedAt": at,
        "finishedAt": at,
        "instance": instance,
        "kind": kind,
        "model": model,
        "outcome": outcome,
        "error": error,
        "attempts": 1,
        "seconds": 1.5,
    }


def _row_text(text: str, ident: str) -> str:
    match = re.search(rf'<tr id="{ident}".*?</tr>', text, re.DOTALL)
    assert match, f"no row {ident}"
    return " ".join(Page(match.group(0)).words.split())


def _section_text(text: str, ident: str) -> str:
    match = re.search(rf'<section id="{ident}".*?</section>', text, re.DOTALL)
    assert match, f"no section {ident}"
    return Page(match.group(0)).words
