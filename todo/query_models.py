"""Query parameters of the read routes, and the pages they answer with."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from todo.models import MAX_SEQUENCE, Input, Instant, Limit, Output, Priority, Status, Tag
from todo.task_models import Task

Sort = Literal[
    "due_at", "-due_at", "priority", "-priority", "created_at", "-created_at", "title", "-title"
]


class TaskPage(Output):
    items: list[Task]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class SearchHit(Task):
    rank: float


class SearchPage(Output):
    items: list[SearchHit]
    next_cursor: str | None


class TaskListQuery(Limit):
    status: list[Status] = []
    priority: list[Priority] = []
    tag: list[Tag] = Field(default=[], description="Repeatable; a task must carry every tag.")
    due_before: Instant | None = None
    due_after: Instant | None = None
    overdue: bool | None = Field(
        default=None, description="true: due before now and not completed; false: the rest."
    )
    q: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    sort: Sort = "-created_at"


class SearchQuery(Limit):
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = (
        Field(
            description='Web search syntax: words, "quoted phrases", -excluded, or. '
            "The last word also matches as a prefix."
        )
    )
    limit: int = Field(default=20, ge=1, le=100)


class SyncQuery(Input):
    since: int = Field(
        default=0, ge=0, le=MAX_SEQUENCE, description="The last sequence number the client has."
    )
    limit: int = Field(default=100, ge=1, le=1000)


class ChangeFeed(Output):
    events: list[dict[str, Any]] = Field(description="CloudEvents 1.0, in sequence order.")
    last_seq: int = Field(description="Resume from here with ?since=.")
    has_more: bool
