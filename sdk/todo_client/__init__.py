"""A typed Python client for the todo API: sync `Client`, async `AsyncClient`.

It depends on httpx and websockets only, never on the server's packages, so an app or a
script installs it alone (`pip install ./sdk`). docs/sdk.md shows it in use.

The asyncio side (`AsyncClient`, the live subscription) is imported on first use: asyncio
and websockets take about 90 ms to load, which a short-lived program on the blocking
`Client` (the `todo` command) need not pay.
"""

from typing import TYPE_CHECKING, Any

from todo_client.client import Client
from todo_client.credentials import Credentials
from todo_client.errors import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    RateLimited,
    RefreshTokenReused,
    StaleVersion,
    TodoError,
    Unauthenticated,
    Unavailable,
    ValidationError,
    WrongPassword,
)
from todo_client.models import (
    Change,
    FieldError,
    Notification,
    Page,
    ParsedTask,
    Problem,
    Recurrence,
    Registered,
    Reminder,
    Task,
    TokenPair,
    User,
)
from todo_client.retry import Retry

if TYPE_CHECKING:
    from todo_client.aio import AsyncClient
    from todo_client.live import LiveChanges, LiveClosed

LAZY = {
    "AsyncClient": "todo_client.aio",
    "LiveChanges": "todo_client.live",
    "LiveClosed": "todo_client.live",
}


def __getattr__(name: str) -> Any:
    if name in LAZY:
        import importlib

        value = getattr(importlib.import_module(LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AsyncClient",
    "Change",
    "Client",
    "Conflict",
    "Credentials",
    "FieldError",
    "Forbidden",
    "IdempotencyKeyReused",
    "LiveChanges",
    "LiveClosed",
    "NotFound",
    "Notification",
    "Page",
    "ParsedTask",
    "Problem",
    "RateLimited",
    "Recurrence",
    "RefreshTokenReused",
    "Registered",
    "Reminder",
    "Retry",
    "StaleVersion",
    "Task",
    "TodoError",
    "TokenPair",
    "Unauthenticated",
    "Unavailable",
    "User",
    "ValidationError",
    "WrongPassword",
]
