"""What `POST /api/tasks/parse` answers: the task read from a quick-add line, and where in
the line each part came from. The parser itself (`todo.quick_add`) loads only when a line
is sent; these models are all the routes need to be declared."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from todo.models import Duration, Output, Priority
from todo.task_models import Recurrence

PartKind = Literal["due", "recurrence", "tag", "priority", "reminder"]


class Span(Output):
    """Where in the text a part lies: `text[start:end]`, counted in Unicode code points."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str


class Part(Span):
    kind: PartKind


class Ignored(Span):
    """Something that looked like quick-add syntax but was not used; it stays in the title."""

    reason: str


class ParsedReminder(Output):
    """One of `remind_at` (a moment) or `before` (a distance before the due time)."""

    remind_at: datetime | None = None
    before: Duration | None = None


class ParsedTask(Output):
    title: str = Field(description="The text without the parts read, whitespace tidied.")
    due_at: datetime | None
    priority: Priority | None = Field(description="Null when the text names none.")
    tags: list[str]
    recurrence: Recurrence | None
    reminders: list[ParsedReminder]
    parts: list[Part] = Field(description="Each part read, in the order of the text.")
    ignored: list[Ignored] = Field(
        description="What looked like syntax but could not be used, and why."
    )
    timezone: str = Field(description="The account's IANA time zone the text was read in.")
