"""JSON-lines logging that carries the request id and function of the request being served."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from todo import context

# Record attributes that are not extras, and uvicorn's coloured duplicate of the message.
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
_installed = False


def _with_context(factory: Any) -> Any:
    """Stamp each record with the request id and function when it is made (under private
    names: a log call may also pass them in `extra`, which takes precedence)."""

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = factory(*args, **kwargs)
        record._request_id = context.request_id.get()
        record._function = context.function.get()
        return record

    return make


class JsonFormatter(logging.Formatter):
    def __init__(self, default_function: str) -> None:
        super().__init__()
        self.default_function = default_function

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "function": fields.get("_function") or self.default_function,
            "message": record.getMessage(),
        }
        if fields.get("_request_id"):
            entry["request_id"] = fields["_request_id"]
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging(default_function: str, level: str = "INFO") -> None:
    """Send every log record to stdout as one JSON object per line (idempotent)."""
    global _installed
    root = logging.getLogger()
    root.setLevel(level.upper())
    # httpx logs every request at INFO: one line per published event is noise. At DEBUG,
    # httpcore logs every phase of every request and the websockets library every frame:
    # LOG_LEVEL=DEBUG is for our own records (the platform tests saw them cost CPU per event).
    for chatty in ("httpx", "httpcore", "websockets", "asyncio"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if _installed:
        return
    _installed = True
    # The lines carry none of the caller, thread or process: skip finding them for every
    # record (the "Optimization" section of the logging HOWTO).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.setLogRecordFactory(_with_context(logging.getLogRecordFactory()))
    handler = StdoutHandler()
    handler.setFormatter(JsonFormatter(default_function))
    root.handlers[:] = [handler]
