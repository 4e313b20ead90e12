"""The daemon's log: one line per event, as text for people or JSON objects for collectors.

Events are logged with the standard `logging` module under the `reconciler.watch` logger, the
event name as the message and its fields in `extra`; the formatters here turn them into
`2025-06-01T12:00:00.123Z INFO reconcile.finished result=applied duration=1.2s` or
`{"ts": "...", "level": "info", "event": "reconcile.finished", "result": "applied", ...}`.
Fields never carry secrets: messages come from errors that are redacted where they are raised.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any, TextIO

LOGGER = "reconciler.watch"
_FIELDS = "orc_fields"
_BARE = re.compile(r"[^\s\"'=]+")


class EventLog:
    """Logs named events with fields: `log.info("reconcile.started", trigger="interval")`."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger(LOGGER)

    def info(self, event: str, **fields: Any) -> None:
        """An ordinary event."""
        self._logger.info(event, extra={_FIELDS: fields})

    def warning(self, event: str, **fields: Any) -> None:
        """Something went wrong that the loop carries on from."""
        self._logger.warning(event, extra={_FIELDS: fields})

    def error(self, event: str, **fields: Any) -> None:
        """Something failed that needs a human."""
        self._logger.error(event, extra={_FIELDS: fields})


def event_fields(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    """The event name and fields of a record (foreign records: `log` with their message)."""
    fields = getattr(record, _FIELDS, None)
    if isinstance(fields, dict):
        return record.getMessage(), fields
    return "log", {"logger": record.name, "message": record.getMessage()}


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`TS LEVEL EVENT key=value ...`, values quoted when they contain spaces."""

    def format(self, record: logging.LogRecord) -> str:
        event, fields = event_fields(record)
        parts = [_timestamp(record), f"{record.levelname:<7}", event]
        parts += [f"{key}={_text(value)}" for key, value in fields.items() if value is not None]
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `ts`, `level`, `event`, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        event, fields = event_fields(record)
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "event": event,
        }
        line.update({k: v for k, v in fields.items() if k not in line})
        return json.dumps(line, default=str, ensure_ascii=False)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    text = str(value)
    return text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def configure_logging(fmt: str, stream: TextIO) -> logging.Handler:
    """Send the daemon's events (and warnings of its libraries) to `stream` in format `fmt`."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for name, level in ((LOGGER, logging.INFO), ("uvicorn", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
    return handler
