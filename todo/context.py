"""What the current request is: its id and the function serving it (for logs and events)."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
function: ContextVar[str | None] = ContextVar("function", default=None)
