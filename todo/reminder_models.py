"""Reminders as the API takes and answers them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from todo.models import Duration, Input, Instant, Limit, Output, exactly_one_of
from todo.task_models import ReminderSpec

MAX_SNOOZE_MINUTES = 7 * 24 * 60


class Reminder(Output):
    id: UUID
    task_id: UUID
    remind_at: datetime
    before: Duration | None = Field(
        description="Set when the reminder follows the task's due time (ISO 8601 duration)."
    )
    message: str | None
    delivered_at: datetime | None
    created_at: datetime


class ReminderCreate(ReminderSpec):
    task_id: UUID


class Snooze(Input):
    """Remind again after some minutes, or at a given moment."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of("minutes", "until"))

    minutes: Annotated[int, Field(strict=True, ge=1, le=MAX_SNOOZE_MINUTES)] | None = None
    until: Instant | None = None

    @model_validator(mode="after")
    def _one_moment(self) -> Snooze:
        if (self.minutes is None) == (self.until is None):
            raise ValueError("give exactly one of minutes or until")
        return self


class ReminderQuery(Limit):
    task_id: UUID | None = None
    pending: bool | None = Field(
        default=None, description="true: not yet delivered; false: delivered."
    )


class ReminderPage(Output):
    items: list[Reminder]
    next_cursor: str | None
