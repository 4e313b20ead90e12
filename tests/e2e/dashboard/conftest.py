"""A simulated fleet on loopback, its manifests, `orc watch` as a subprocess, and headless Chromium.

The browser is Debian's `chromium` driven by Playwright (`executable_path`, so Playwright never
downloads a browser of its own). Without a Chromium binary the tests skip and say how to get one;
`.ci/run` installs it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.testing import BackgroundFleet, SimFleet, SimInstanceConfig
from tests.support.watch_daemon import Daemon

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
LLAMA, CODER, SMALL, EMBED = "llama3.2:3b", "qwen2.5-coder:7b", "smollm2:135m", "nomic-embed-text"
TOKEN_RATE = 25.0  # tokens per second on gpu-1: a reply takes a second or two to stream


def chromium_path() -> str | None:
    """Debian's Chromium, if installed."""
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through Playwright; skipped, saying why, where none can run.

    Per module, so that Playwright's own event loop is gone before other modules' async tests."""
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "no Chromium binary (looked for /usr/bin/chromium): install Debian's package with "
            "`apt-get install -y chromium` (.ci/run does) to run the browser tests"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is missing: pip install -e '.[dev]'"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, timeout=60_000
        )
        try:
            yield launched
        finally:
            launched.close()


class Console:
    """Every console error, uncaught exception and request of a page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")


INSTANCE = """\
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata:
  name: {name}
spec:
  url: {url}
  priority: {priority}
  timeout: 2s
  models:
{models}"""


def _models(*names: str, keep_loaded: tuple[str, ...] = ()) -> str:
    lines = []
    for name in names:
        lines.append(f"    - name: {name}")
        if name in keep_loaded:
            lines.append("      keepLoaded: true")
    return "\n".join(lines) + "\n"


@pytest.fixture
def sims() -> Iterator[SimFleet]:
    """gpu-1 (priority 1, streams slowly), dev-box (priority 2), edge (priority 3, down)."""
    configs = [
        SimInstanceConfig(
            "gpu-1",
            models=(LLAMA, CODER),
            token_rate=TOKEN_RATE,
            first_token_delay=0.2,
            latency=0.01,
        ),
        SimInstanceConfig("dev-box", models=(LLAMA, EMBED), loaded=(LLAMA,)),
        SimInstanceConfig("edge", models=(LLAMA,)),
    ]
    background = BackgroundFleet(configs)
    with background as fleet:
        background.call(fleet.stop("edge"))
        yield fleet


@pytest.fixture
def manifests(sims: SimFleet, tmp_path: Path) -> Path:
    """The fleet's manifests: gpu-1 still has to pull smollm2 and load llama3.2."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    declared = {
        "gpu-1": (1, _models(LLAMA, CODER, SMALL, keep_loaded=(LLAMA,))),
        "dev-box": (2, _models(LLAMA, EMBED)),
        "edge": (3, _models(LLAMA)),
    }
    for name, (priority, models) in declared.items():
        text = INSTANCE.format(name=name, url=sims.url(name), priority=priority, models=models)
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def daemon(manifests: Path, tmp_path: Path) -> Iterator[Daemon]:
    """`orc watch` over the manifests, after its first reconcile has finished."""
    running = Daemon(manifests, tmp_path / "state", start_timeout=20)
    try:
        running.wait("reconcile.finished", timeout=30)
        yield running
    finally:
        assert running.stop() == 0
