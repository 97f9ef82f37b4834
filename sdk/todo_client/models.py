"""What the API answers, as frozen dataclasses that mirror `todo/openapi.json`'s schemas.

Dataclasses rather than pydantic models: a client only reads what a trusted server wrote,
so one small decoder (`decode`) does, and the SDK installs without a compiled dependency.
`tests/test_sdk_models.py` compares every field here with the OpenAPI document, so a
schema change that is not made here fails a test. Ids stay strings: a client never does
arithmetic on them, it only sends them back.
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

Status = Literal["pending", "in_progress", "completed"]
Priority = Literal["low", "medium", "high", "urgent"]

T = TypeVar("T")


@dataclass(frozen=True)
class Recurrence:
    rrule: str
    timezone: str | None = None
    mode: Literal["due", "completion"] = "due"


@dataclass(frozen=True)
class Task:
    id: str
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


@dataclass(frozen=True)
class Reminder:
    id: str
    task_id: str
    remind_at: datetime
    before: str | None
    message: str | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Notification:
    id: str
    task_id: str | None
    reminder_id: str | None
    title: str
    body: str | None
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; `next_cursor` fetches the next one, None at the end."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class User:
    id: str
    email: str
    timezone: str
    roles: list[str]
    permissions: list[str]
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_expires_in: int
    refresh_token: str | None = None
    token_type: Literal["Bearer"] = "Bearer"


@dataclass(frozen=True, kw_only=True)
class Registered(TokenPair):
    user: User


@dataclass(frozen=True)
class ParsedReminder:
    remind_at: datetime | None = None
    before: str | None = None


@dataclass(frozen=True)
class Part:
    start: int
    end: int
    text: str
    kind: Literal["due", "recurrence", "tag", "priority", "reminder"]


@dataclass(frozen=True)
class Ignored:
    start: int
    end: int
    text: str
    reason: str


@dataclass(frozen=True)
class ParsedTask:
    """What a quick-add text reads as (`POST /api/tasks/parse`); nothing is created."""

    title: str
    due_at: datetime | None
    priority: Priority | None
    tags: list[str]
    recurrence: Recurrence | None
    reminders: list[ParsedReminder]
    parts: list[Part]
    ignored: list[Ignored]
    timezone: str


@dataclass(frozen=True)
class ChangeFeed:
    """A batch of `GET /api/sync`: CloudEvents as sent; `Change.from_cloudevent` reads one."""

    events: list[dict[str, Any]]
    last_seq: int
    has_more: bool


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


@dataclass(frozen=True)
class Problem:
    """An RFC 7807 answer, as `todo/problems.py` writes it."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """One event of the account's change feed, from `/api/sync` or the websocket alike.

    `type` is the event type without its `todo.` prefix (`task.created`), as the websocket
    sends it; `seq` is the account's gapless sequence number to resume from.
    """

    type: str
    seq: int
    id: str
    time: datetime | None
    data: dict[str, Any] | None

    @classmethod
    def from_cloudevent(cls, event: dict[str, Any]) -> Change:
        return cls(
            type=str(event["type"]).removeprefix("todo."),
            seq=int(event["sequence"]),
            id=str(event["id"]),
            time=_datetime(event["time"]) if event.get("time") else None,
            data=event.get("data"),
        )

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Change:
        change: Change = decode(cls, message)
        return change


@functools.cache
def field_types(cls: Any) -> dict[str, Any]:
    """A dataclass's field types, with a generic one's type parameters filled in
    (`Page[Task]`'s `items` is `list[Task]`). Kept per class: resolving the hints compiles
    every annotation, which decoding a page of 200 tasks paid 200 times (30 ms)."""
    origin = typing.get_origin(cls) or cls
    hints = typing.get_type_hints(origin)
    params = getattr(origin, "__parameters__", ())
    bound = dict(zip(params, typing.get_args(cls), strict=False))
    return {f.name: _substitute(hints[f.name], bound) for f in fields(origin)}


def _substitute(tp: Any, bound: dict[Any, Any]) -> Any:
    if tp in bound:
        return bound[tp]
    args = typing.get_args(tp)
    if not args or not bound:
        return tp
    origin = typing.get_origin(tp)
    substituted = tuple(_substitute(a, bound) for a in args)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[substituted]  # noqa: UP007 (a tuple of types, built at run time)
    return origin[substituted]


def decode(cls: Any, data: Any) -> Any:
    """Build `cls` (a dataclass, possibly generic) from decoded JSON. Keys the model does not
    know are skipped, so a server that adds a field does not break older clients."""
    origin = typing.get_origin(cls) or cls
    known = field_types(cls)
    return origin(**{name: _value(known[name], data[name]) for name in known if name in data})


def _value(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _value(inner, value)
    if tp is datetime:
        return _datetime(value)
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_value(item, v) for v in value]
    if is_dataclass(origin or tp):
        return decode(tp, value)
    return value


def _datetime(value: str) -> datetime:
    return datetime.fromisoformat(value)
