"""The task: what a create or a patch may say, and what the API answers with."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from todo import recurrence
from todo.errors import InvalidInput
from todo.models import (
    INSTANT_RANGE,
    DurationInput,
    Input,
    Instant,
    Output,
    Priority,
    Status,
    Tag,
    Timezone,
    exactly_one_of,
)

METADATA_MAX_BYTES = 16 * 1024
MAX_TAGS = 20
MAX_REMINDERS = 20


def _unique_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def _bounded_metadata(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > METADATA_MAX_BYTES:
        raise ValueError(f"metadata is {size} bytes as JSON; the limit is {METADATA_MAX_BYTES}")
    return value


def _rule(text: str) -> str:
    shorthand = recurrence.SHORTHANDS.get(text.strip().lower())
    return shorthand or recurrence.normalize_rule(text)


def _bounded_rule(text: str) -> str:
    return recurrence.check_limits(text)


def _expand_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        if value not in recurrence.SHORTHANDS:
            raise ValueError('use "daily", "weekly", "monthly" or an object with "rrule"')
        return {"rrule": recurrence.SHORTHANDS[value]}
    return value


Shorthand = Literal["daily", "weekly", "monthly"]


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_unique_tags)]
Metadata = Annotated[dict[str, Any], AfterValidator(_bounded_metadata)]
RULE_HELP = (
    'An RFC 5545 RRULE such as "FREQ=WEEKLY;BYDAY=MO", or a shorthand: "daily", "weekly", '
    '"monthly".'
)
Rule = Annotated[
    str,
    Field(min_length=1, max_length=500, description=RULE_HELP),
    AfterValidator(_rule),
]
BoundedRule = Annotated[
    Rule,
    Field(description=f"{RULE_HELP} COUNT at most {recurrence.MAX_COUNT}; UNTIL {INSTANT_RANGE}."),
    AfterValidator(_bounded_rule),
]


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


class RecurrenceSpec(Recurrence):
    """A rule given now: besides being valid, its COUNT and UNTIL stay within limits.

    Stored tasks are read as `Recurrence`, so a series saved before a limit existed stays
    readable and goes on.
    """

    rrule: BoundedRule


RecurrenceInput = Annotated[
    RecurrenceSpec,
    BeforeValidator(_expand_shorthand, json_schema_input_type=Shorthand | RecurrenceSpec),
]


class ReminderSpec(Input):
    """When to remind: at a moment (`remind_at`) or a duration before the task is due."""

    model_config = ConfigDict(json_schema_extra=exactly_one_of("remind_at", "before"))

    remind_at: Instant | None = None
    before: DurationInput | None = Field(
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


class _TaskFields(Input):
    """What a create may say; the title is required by TaskCreate, optional in NewTask."""

    title: Title | None = None
    description: Description | None = None
    status: Status = "pending"
    priority: Priority = "medium"
    due_at: Instant | None = None
    tags: Tags = []
    metadata: Metadata = {}
    reminders: Annotated[list[ReminderSpec], Field(max_length=MAX_REMINDERS)] = []
    recurrence: RecurrenceInput | None = None


class TaskCreate(_TaskFields):
    title: Title


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


# Kept as sent (not trimmed), so the offsets of a parse point into it; at most a title's
# length, so the title read from it always fits.
QuickText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(_not_blank),
    Field(
        description="A line as a person types it, such as `Pay rent every month on the 1st "
        "at 9am #home !high remind 30m before`, read in the account's time zone."
    ),
]


class NewTask(_TaskFields):
    """A task to create: its fields, or the line a person typed (`text`), or both.

    With `text`, the task is what `POST /api/tasks/parse` reads from it, and every field
    given besides replaces what was read for that field whole.
    """

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["title"]}, {"required": ["text"]}]}
    )

    text: QuickText | None = None

    def task(self) -> TaskCreate:
        """The task as given, for a body without `text` (already validated field by field)."""
        if self.title is None:
            raise InvalidInput.single("title", "Field required (or send text)")
        values = {name: getattr(self, name) for name in TaskCreate.model_fields}
        return TaskCreate.model_construct(self.model_fields_set - {"text"}, **values)

    def explicit(self) -> dict[str, Any]:
        """The fields given besides `text`."""
        return {name: getattr(self, name) for name in self.model_fields_set - {"text"}}


class QuickAdd(Input):
    text: QuickText


# The default of a patch field that takes no null: it only marks the field as absent.
_ABSENT: Any = None


class TaskPatch(Input):
    """Fields to change; a field left out keeps its value, `null` clears a nullable one."""

    # Fields that cannot be cleared take no null (the default only marks them absent).
    title: Title = Field(default=_ABSENT)
    description: Description | None = None
    status: Status = Field(default=_ABSENT)
    priority: Priority = Field(default=_ABSENT)
    due_at: Instant | None = None
    tags: Tags = Field(default=_ABSENT)
    metadata: Metadata = Field(default=_ABSENT)
    recurrence: RecurrenceInput | None = None

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
