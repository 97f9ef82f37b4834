"""Notifications as the API lists them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from todo.models import Limit, Output


class Notification(Output):
    id: UUID
    task_id: UUID | None
    reminder_id: UUID | None
    title: str
    body: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationQuery(Limit):
    unread: bool | None = Field(default=None, description="true: only unread ones.")


class NotificationPage(Output):
    items: list[Notification]
    next_cursor: str | None


class ReadAll(Output):
    updated: int = Field(description="How many notifications were marked read.")
