"""`orc watch` as a subprocess for end-to-end tests: its JSON log collected as it comes, its
address learned from the `http.listening` line, and a clean stop by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `condition` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Daemon:
    """`orc watch FOLDER --listen 127.0.0.1:0 --log-format json --state-dir STATE *FLAGS`."""

    def __init__(
        self,
        folder: Path,
        state: Path,
        *flags: str,
        env: dict[str, str] | None = None,
        start_timeout: float = 15,
    ) -> None:
        command = [
            sys.executable, "-m", "reconciler", "watch", str(folder),
            "--listen", "127.0.0.1:0", "--log-format", "json", "--state-dir", str(state),
            *flags,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        listening = self.wait("http.listening", timeout=start_timeout)
        self.url = f"http://{listening['address']}"

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.events.append({"event": "unparsed", "line": line})

    def wait(self, event: str, timeout: float = 10, **fields: Any) -> dict[str, Any]:
        """The first log event named `event` whose fields match, waiting up to `timeout`."""

        def found() -> dict[str, Any] | None:
            return next(
                (
                    e
                    for e in list(self.events)
                    if e.get("event") == event and all(e.get(k) == v for k, v in fields.items())
                ),
                None,
            )

        return until(found, timeout, f"{event} {fields} in the log of orc watch")

    def reconciled(self, number: int, timeout: float = 10) -> dict[str, Any]:
        """The `reconcile.finished` event of reconcile `number`."""
        return self.wait("reconcile.finished", timeout, number=number)

    def clean(self) -> None:
        """Every line of the log was a JSON event (no traceback, no stray output)."""
        self._reader.join(timeout=5)
        assert [e["line"] for e in self.events if e["event"] == "unparsed"] == []
        assert self.events[-1]["event"] == "watch.stopped"

    def stop(self) -> int:
        """SIGTERM, then the exit code (killed and failing after 15 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
