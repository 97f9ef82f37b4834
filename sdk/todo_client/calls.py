"""Every API call as data: method, path, query, body, headers and how to read the answer.

The sync and async clients differ only in how they send a call, so each route's shape is
written once, here.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypedDict, TypeVar

import httpx

from todo_client.errors import error_from_response
from todo_client.models import (
    ChangeFeed,
    Notification,
    Page,
    ParsedTask,
    Priority,
    Registered,
    Reminder,
    Status,
    Task,
    TokenPair,
    User,
    decode,
)

if sys.version_info >= (3, 12):
    from typing import Unpack as Unpack
else:
    from typing_extensions import Unpack as Unpack

T = TypeVar("T")
# httpx's own type for query parameters, which lists are invariant in.
Query = list[tuple[str, str | int | float | bool | None]]


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: Query = field(default_factory=list)
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    authenticated: bool = True
    # Safe to send again after a dropped connection or a 503 (retry.py).
    repeatable: bool = False

    def finish(self, response: httpx.Response) -> T:
        if response.is_error:
            raise error_from_response(response)
        return self.read(response)


def _model(cls: Any) -> Callable[[httpx.Response], Any]:
    return lambda response: decode(cls, response.json())


def _nothing(response: httpx.Response) -> None:
    return None


def _json(value: Any) -> Any:
    """A keyword argument as JSON: times as RFC 3339, which the API takes with an offset."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("times need a time zone (the API takes RFC 3339 with an offset)")
        return value.isoformat()
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def _body(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _json(value) for name, value in fields.items()}


def _query(**values: Any) -> Query:
    """Query parameters; None leaves one out, a list repeats it (`tag=a&tag=b`)."""
    query: Query = []
    for name, value in values.items():
        items: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if item is None:
                continue
            if isinstance(item, bool):
                item = "true" if item else "false"
            query.append((name, str(_json(item))))
    return query


def _if_match(version: int | None) -> dict[str, str]:
    return {} if version is None else {"if-match": f'"{version}"'}


# Accounts -----------------------------------------------------------------------------


def register(email: str, password: str, timezone: str) -> Call[Registered]:
    body = {"email": email, "password": password, "timezone": timezone}
    return Call("POST", "/api/auth/register", _model(Registered), body=body, authenticated=False)


def login(email: str, password: str) -> Call[TokenPair]:
    body = {"email": email, "password": password}
    return Call("POST", "/api/auth/login", _model(TokenPair), body=body, authenticated=False)


def refresh(refresh_token: str) -> Call[TokenPair]:
    body = {"refresh_token": refresh_token}
    return Call("POST", "/api/auth/refresh", _model(TokenPair), body=body, authenticated=False)


def logout(refresh_token: str) -> Call[None]:
    body = {"refresh_token": refresh_token}
    return Call("POST", "/api/auth/logout", _nothing, body=body, authenticated=False)


def me() -> Call[User]:
    return Call("GET", "/api/auth/me", _model(User), repeatable=True)


# Tasks --------------------------------------------------------------------------------


class TaskFilters(TypedDict, total=False):
    """What `tasks.list` and `tasks.iterate` filter and sort by (GET /api/tasks)."""

    status: Status | list[Status]
    priority: Priority | list[Priority]
    tag: str | list[str]
    due_before: datetime
    due_after: datetime
    overdue: bool
    q: str
    sort: Literal[
        "due_at", "-due_at", "priority", "-priority", "created_at", "-created_at", "title", "-title"
    ]
    limit: int


class TaskFields(TypedDict, total=False):
    """A task's fields, to create one or change some (TaskPatch in the API); None clears
    a nullable one on update."""

    title: str
    description: str | None
    status: Status
    priority: Priority
    due_at: datetime | None
    tags: list[str]
    metadata: dict[str, Any]
    # {"rrule": "FREQ=WEEKLY;BYDAY=MO"} or a shorthand rule "daily", "weekly", "monthly".
    recurrence: dict[str, Any] | None
    # Each {"remind_at": datetime} or {"before": "PT15M"}; on create only.
    reminders: list[dict[str, Any]]


def create_task(fields: Mapping[str, Any], idempotency_key: str | None) -> Call[Task]:
    """With a key (a fresh one by default), the create can be repeated safely."""
    key = idempotency_key or str(uuid.uuid4())
    return Call(
        "POST",
        "/api/tasks",
        _model(Task),
        body=_body(fields),
        headers={"idempotency-key": key},
        repeatable=True,
    )


def parse(text: str) -> Call[ParsedTask]:
    return Call("POST", "/api/tasks/parse", _model(ParsedTask), body={"text": text})


def search(text: str, limit: int | None) -> Call[Page[Task]]:
    """GET /api/search: the best matches first."""
    params = _query(q=text, limit=limit)
    return Call("GET", "/api/search", _model(Page[Task]), params=params, repeatable=True)


def get_task(task_id: str) -> Call[Task]:
    return Call("GET", f"/api/tasks/{task_id}", _model(Task), repeatable=True)


def list_tasks(filters: TaskFilters, cursor: str | None) -> Call[Page[Task]]:
    params = _query(cursor=cursor, **filters)
    return Call("GET", "/api/tasks", _model(Page[Task]), params=params, repeatable=True)


def update_task(task_id: str, version: int | None, fields: Mapping[str, Any]) -> Call[Task]:
    path = f"/api/tasks/{task_id}"
    return Call("PATCH", path, _model(Task), body=_body(fields), headers=_if_match(version))


def task_action(
    task_id: str, version: int | None, action: Literal["complete", "reopen"]
) -> Call[Task]:
    path = f"/api/tasks/{task_id}/{action}"
    return Call("POST", path, _model(Task), headers=_if_match(version))


def delete_task(task_id: str, version: int | None) -> Call[None]:
    return Call("DELETE", f"/api/tasks/{task_id}", _nothing, headers=_if_match(version))


def changes(since: int, limit: int | None) -> Call[ChangeFeed]:
    params = _query(since=since, limit=limit)
    return Call("GET", "/api/sync", _model(ChangeFeed), params=params, repeatable=True)


# Reminders and notifications ----------------------------------------------------------


def list_reminders(
    task_id: str | None, pending: bool | None, cursor: str | None
) -> Call[Page[Reminder]]:
    params = _query(task_id=task_id, pending=pending, cursor=cursor)
    return Call("GET", "/api/reminders", _model(Page[Reminder]), params=params, repeatable=True)


def _given(**fields: Any) -> dict[str, Any]:
    return _body({name: value for name, value in fields.items() if value is not None})


def add_reminder(
    task_id: str, remind_at: datetime | None, before: str | None, message: str | None
) -> Call[Reminder]:
    body = _given(task_id=task_id, remind_at=remind_at, before=before, message=message)
    return Call("POST", "/api/reminders", _model(Reminder), body=body)


def delete_reminder(reminder_id: str) -> Call[None]:
    return Call("DELETE", f"/api/reminders/{reminder_id}", _nothing)


def snooze_reminder(
    reminder_id: str, minutes: int | None, until: datetime | None
) -> Call[Reminder]:
    path = f"/api/reminders/{reminder_id}/snooze"
    body = _given(minutes=minutes, until=until)
    return Call("POST", path, _model(Reminder), body=body)


def list_notifications(unread: bool | None, cursor: str | None) -> Call[Page[Notification]]:
    params = _query(unread=unread, cursor=cursor)
    return Call(
        "GET", "/api/notifications", _model(Page[Notification]), params=params, repeatable=True
    )


def read_notification(notification_id: str) -> Call[Notification]:
    path = f"/api/notifications/{notification_id}/read"
    return Call("POST", path, _model(Notification))


def read_all_notifications() -> Call[int]:
    return Call(
        "POST", "/api/notifications/read-all", lambda response: int(response.json()["updated"])
    )


class Unset:
    """The default of `version=`: take it from the Task passed, or ask for one."""


UNSET = Unset()
Version = int | None | Unset


def target(task: Task | str, version: Version) -> tuple[str, int | None]:
    """The id and the If-Match version of a change. A Task brings its own version; a bare
    id needs `version=` (None changes it whatever its version, which is rarely meant)."""
    if isinstance(task, Task):
        return task.id, task.version if isinstance(version, Unset) else version
    if isinstance(version, Unset):
        raise TypeError("pass the Task, or its id with version= (None: no If-Match)")
    return task, version
