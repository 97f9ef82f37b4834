"""A typed Python client for the todo API: sync `Client`, async `AsyncClient`.

It depends on httpx and websockets only, never on the server's packages, so an app or a
script installs it alone (`pip install ./sdk`). docs/sdk.md shows it in use.
"""

from todo_client.aio import AsyncClient
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
from todo_client.live import LiveChanges, LiveClosed
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
