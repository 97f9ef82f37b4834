"""Request and response shapes of the task and account APIs, validated by pydantic.

Inputs forbid unknown fields, so a typo (`titel`) is a 422 naming it instead of a silently
dropped value.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from todo import recurrence

Status = Literal["pending", "in_progress", "completed"]
Priority = Literal["low", "medium", "high", "urgent"]
Sort = Literal[
    "due_at", "-due_at", "priority", "-priority", "created_at", "-created_at", "title", "-title"
]

METADATA_MAX_BYTES = 16 * 1024
MAX_TAGS = 20
MAX_REMINDERS = 20


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


def _unique_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def _bounded_metadata(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > METADATA_MAX_BYTES:
        raise ValueError(f"metadata is {size} bytes as JSON; the limit is {METADATA_MAX_BYTES}")
    return value


def _rule(text: str) -> str:
    return recurrence.normalize_rule(text)


def _expand_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        if value not in recurrence.SHORTHANDS:
            raise ValueError('use "daily", "weekly", "monthly" or an object with "rrule"')
        return {"rrule": recurrence.SHORTHANDS[value]}
    return value


Timezone = Annotated[str, AfterValidator(check_timezone)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_unique_tags)]
Metadata = Annotated[dict[str, Any], AfterValidator(_bounded_metadata)]
Rule = Annotated[str, Field(max_length=500), AfterValidator(_rule)]


class Recurrence(Input):
    """An RFC 5545 RRULE; the shorthands "daily", "weekly" and "monthly" expand to one."""

    rrule: Rule
    timezone: Timezone | None = Field(
        default=None, description="IANA zone the rule is computed in; the owner's by default."
    )
    mode: Literal["due", "completion"] = Field(
        default="due",
        description="Count the next due time from the previous due time, or from completion.",
    )


RecurrenceInput = Annotated[Recurrence, BeforeValidator(_expand_shorthand)]


class ReminderSpec(Input):
    """When to remind: at a moment (`remind_at`) or a duration before the task is due."""

    remind_at: AwareDatetime | None = None
    before: timedelta | None = Field(
        default=None, description="ISO 8601 duration before due_at, such as PT15M or P1D."
    )
    message: Annotated[str, StringConstraints(max_length=500)] | None = None

    @field_validator("before")
    @classmethod
    def _not_negative(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(0):
            raise ValueError("before must not be negative")
        return value

    @model_validator(mode="after")
    def _one_moment(self) -> ReminderSpec:
        if (self.remind_at is None) == (self.before is None):
            raise ValueError("give exactly one of remind_at or before")
        return self


class TaskCreate(Input):
    title: Title
    description: Description | None = None
    status: Status = "pending"
    priority: Priority = "medium"
    due_at: AwareDatetime | None = None
    tags: Tags = []
    metadata: Metadata = {}
    reminders: Annotated[list[ReminderSpec], Field(max_length=MAX_REMINDERS)] = []
    recurrence: RecurrenceInput | None = None


class TaskPatch(Input):
    """Fields to change; a field left out keeps its value, `null` clears a nullable one."""

    title: Title | None = None
    description: Description | None = None
    status: Status | None = None
    priority: Priority | None = None
    due_at: AwareDatetime | None = None
    tags: Tags | None = None
    metadata: Metadata | None = None
    recurrence: RecurrenceInput | None = None

    @model_validator(mode="after")
    def _not_null(self) -> TaskPatch:
        for name in ("title", "status", "priority", "tags", "metadata"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class Task(Output):
    id: UUID
    title: str
    description: str | None
    status: Status
    priority: Priority
    due_at: datetime | None
    completed_at: datetime | None
    tags: list[str]
    metadata: dict[str, Any]
    recurrence: Recurrence | None
    version: int
    created_at: datetime
    updated_at: datetime


class TaskPage(Output):
    items: list[Task]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class SearchHit(Task):
    rank: float


class SearchPage(Output):
    items: list[SearchHit]
    next_cursor: str | None


class Limit(Input):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=1000)


class TaskListQuery(Limit):
    status: list[Status] = []
    priority: list[Priority] = []
    tag: list[Tag] = Field(default=[], description="Repeatable; a task must carry every tag.")
    due_before: AwareDatetime | None = None
    due_after: AwareDatetime | None = None
    overdue: bool | None = Field(
        default=None, description="true: due before now and not completed; false: the rest."
    )
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    sort: Sort = "-created_at"


class SearchQuery(Limit):
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="Web search syntax: words, \"quoted phrases\", -excluded, or. "
        "The last word also matches as a prefix."
    )
    limit: int = Field(default=20, ge=1, le=100)


class SyncQuery(Input):
    since: int = Field(default=0, ge=0, description="The last sequence number the client has.")
    limit: int = Field(default=100, ge=1, le=1000)


class ChangeFeed(Output):
    events: list[dict[str, Any]] = Field(description="CloudEvents 1.0, in sequence order.")
    last_seq: int = Field(description="Resume from here with ?since=.")
    has_more: bool


# Accounts ---------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError("not an email address")
    return value


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(_email)]


class Register(Input):
    email: Email
    password: Annotated[str, StringConstraints(min_length=8, max_length=1024)]
    timezone: Timezone = "UTC"


class Login(Input):
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class UserPatch(Input):
    timezone: Timezone


class User(Output):
    id: UUID
    email: str
    timezone: str
    roles: list[str]
    permissions: list[str]
    created_at: datetime


class AccessToken(Output):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class Registered(AccessToken):
    user: User


class Health(Output):
    status: str
