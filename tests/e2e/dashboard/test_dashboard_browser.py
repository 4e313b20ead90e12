"""The dashboard in a real browser: headless Chromium against `orc watch` and a simulated fleet.

What an operator would see: every instance and every model, the down instance's error, the
applied actions of the first reconcile, a Test chat whose reply visibly streams in, the page
refreshing itself, a phone-sized dark view without sideways scrolling, and not one console error
(a Content-Security-Policy violation is one). Screenshots are saved under the test's tmp_path.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.watch_daemon import Daemon, until

from .conftest import CODER, EMBED, LLAMA, SMALL, Console

pytestmark = pytest.mark.slow
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _status(daemon: Daemon) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{daemon.url}/status", timeout=5).json()
    return document


def _stream_lengths(page: Any, timeout: float) -> list[int]:
    """The reply's length, read every few milliseconds until the summary line says it is done."""
    lengths: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lengths.append(len(page.text_content("#chat-reply") or ""))
        if "via " in (page.text_content("#chat-meta") or ""):
            return lengths
        time.sleep(0.03)
    raise AssertionError(
        f"the chat did not finish in {timeout}s: {page.text_content('#chat-meta')}"
    )


def test_dashboard_shows_the_fleet_and_streams_a_test_chat(
    browser: Any, daemon: Daemon, tmp_path: Path
) -> None:
    document = _status(daemon)
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    page = context.new_page()
    console = Console(page)
    page.goto(f"{daemon.url}/")

    for instance in document["instances"]:
        assert page.locator(f"#instance-{instance['name']}").is_visible()
    models_text = page.text_content("#models") or ""
    assert document["models"], "the simulated fleet has models"
    for model in document["models"]:
        assert model["model"] in models_text
    for name in (LLAMA, CODER, SMALL, EMBED):
        assert name in models_text
    edge = page.text_content("#instance-edge") or ""
    assert "Unreachable" in edge
    assert "connection refused" in edge.lower() or "cannot connect" in edge.lower()
    activity = page.text_content("#activity") or ""
    assert "startup" in activity
    assert re.search(r"pull\s*smollm2:135m", activity), "the first reconcile pulled smollm2"

    page.select_option("select[name=model]", LLAMA)
    page.fill("textarea[name=prompt]", "Introduce yourself in one sentence.")
    page.click("#chat button[type=submit]")
    lengths = _stream_lengths(page, timeout=30)
    grown = sorted({n for n in lengths if n > 0})
    assert len(grown) >= 3, f"the reply should grow as it streams, saw lengths {grown}"
    meta = page.text_content("#chat-meta") or ""
    assert "via gpu-1 (priority 1)" in meta
    assert "first token" in meta
    assert "ms" in meta
    assert "simulated" in (page.text_content("#chat-reply") or "")

    until(lambda: "updated" in (page.text_content("#live") or ""), 12, "the page's own refresh")
    assert page.locator("#instance-gpu-1").is_visible(), "the refreshed sections are in place"
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    print(f"\nscreenshot: {tmp_path / 'dashboard.png'}")
    assert console.errors == []
    assert all(url.startswith(f"{daemon.url}/") for url in console.requests), console.requests
    context.close()


def test_dashboard_on_a_phone_in_dark_mode(browser: Any, daemon: Daemon, tmp_path: Path) -> None:
    context = browser.new_context(viewport=PHONE, color_scheme="dark", device_scale_factor=2)
    page = context.new_page()
    console = Console(page)
    page.goto(f"{daemon.url}/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
    assert max(channels) < 64, f"dark mode should darken the page, got {background}"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the page itself must not scroll sideways on a phone"
    page.screenshot(path=str(tmp_path / "dashboard-phone-dark.png"), full_page=True)
    assert console.errors == []
    context.close()


def test_status_html_file_is_self_contained_and_renders(
    browser: Any, manifests: Path, tmp_path: Path
) -> None:
    out = tmp_path / "fleet.html"
    command = [sys.executable, "-m", "reconciler", "status", str(manifests), "--format", "html"]
    command += ["--state-dir", str(tmp_path / "state")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    out.write_text(run.stdout, encoding="utf-8")
    text = run.stdout
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
    assert "<script" not in text
    assert "@import" not in text and "url(" not in text

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    console = Console(page)
    page.goto(out.as_uri())
    for name in ("gpu-1", "dev-box", "edge"):
        assert page.locator(f"#instance-{name}").is_visible()
    assert LLAMA in (page.text_content("#models") or "")
    page.screenshot(path=str(tmp_path / "fleet-html-file.png"), full_page=True)
    assert console.errors == []
    assert all(url.startswith(("file:", "data:")) for url in console.requests), console.requests
    context.close()
