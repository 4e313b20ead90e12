"""The daemon's log lines (text and JSON), the manifest filter of the file watcher, and the git
revision of the manifests."""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.watch import ManifestFilter
from reconciler.watch.logs import LOGGER, EventLog, JsonFormatter, TextFormatter, configure_logging
from reconciler.watch.revision import git_revision


def record(event: str, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord(LOGGER, logging.INFO, __file__, 1, event, None, None)
    made.created = 1748779200.25  # 2025-06-01T12:00:00.250Z
    made.orc_fields = fields
    return made


def test_text_lines_are_timestamp_level_event_and_fields():
    line = TextFormatter().format(
        record(
            "reconcile.finished",
            result="applied",
            duration=1.25,
            message="Apply complete: 1 pulled.",
            previous=None,
        )
    )
    assert line == (
        "2025-06-01T12:00:00.250Z INFO    reconcile.finished result=applied duration=1.25 "
        'message="Apply complete: 1 pulled."'
    )


def test_json_lines_carry_ts_level_event_and_the_fields():
    line = JsonFormatter().format(
        record("instance.health", instance="a", health="Unreachable", previous="Healthy")
    )
    assert json.loads(line) == {
        "ts": "2025-06-01T12:00:00.250Z",
        "level": "info",
        "event": "instance.health",
        "instance": "a",
        "health": "Unreachable",
        "previous": "Healthy",
    }


def test_events_go_to_the_configured_stream_one_line_each():
    stream = io.StringIO()
    handler = configure_logging("json", stream)
    try:
        log = EventLog()
        log.info("reconcile.started", trigger="startup")
        log.error("manifests.invalid", file="m/a.yaml", line=3, column=7, message="bad")
        logging.getLogger("uvicorn.error").info("Uvicorn running")  # below WARNING: dropped
    finally:
        for name in (LOGGER, "uvicorn"):
            logging.getLogger(name).handlers.remove(handler)
            logging.getLogger(name).propagate = True
        logging.getLogger("uvicorn.access").disabled = False
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["level"], x["event"]) for x in lines] == [
        ("info", "reconcile.started"),
        ("error", "manifests.invalid"),
    ]
    assert lines[1]["line"] == 3


def test_the_filter_accepts_what_the_loader_would_read(tmp_path):
    folder = tmp_path / "manifests"
    (folder / ".hidden").mkdir(parents=True)
    single = tmp_path / "extra.yml"
    single.write_text("", encoding="utf-8")
    accept = ManifestFilter([folder, single])
    assert accept(None, str(folder / "a.yaml"))
    assert accept(None, str(folder / "sub" / "b.yml"))
    assert accept(None, str(single))
    assert not accept(None, str(folder / "notes.txt"))
    assert not accept(None, str(folder / ".hidden" / "c.yaml"))
    assert not accept(None, str(tmp_path / "other.yaml")), "beside a watched file, not watched"
    assert accept.roots() == [folder.resolve(), tmp_path.resolve()]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_revision_is_the_commit_of_the_work_tree(tmp_path):
    assert git_revision([tmp_path]) is None
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.yaml").write_text("kind: Fleet\n", encoding="utf-8")
    subprocess.run([*git, "add", "a.yaml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fleet"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    assert git_revision([tmp_path / "a.yaml"]) == head.stdout.strip()
    assert len(head.stdout.strip()) == 40


def test_no_revision_for_nothing():
    assert git_revision([]) is None
    assert git_revision([Path("/")]) is None
