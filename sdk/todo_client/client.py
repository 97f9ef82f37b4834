"""The blocking client: `Client(base_url)`, then `client.tasks`, `client.reminders`, ..."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from todo_client import calls
from todo_client.calls import UNSET, Call, TaskFields, TaskFilters, Unpack, Version
from todo_client.credentials import Credentials, CredentialsHook, Session
from todo_client.errors import Unauthenticated
from todo_client.models import (
    Change,
    Notification,
    Page,
    ParsedTask,
    Registered,
    Reminder,
    Task,
    TokenPair,
    User,
)
from todo_client.retry import Retry

T = TypeVar("T")


class Client:
    """One account's view of the API.

    Give it `credentials` from an earlier run (and `on_credentials` to save the next ones),
    or call `login`/`register`. The access token is refreshed when it is within
    `refresh_margin` seconds of expiring, or once when an answer is 401; a second 401, or a
    refused refresh, raises `Unauthenticated`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        on_credentials: CredentialsHook | None = None,
        retry: Retry = Retry(),  # noqa: B008 (frozen)
        refresh_margin: float = 60.0,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        self.session = Session(credentials, on_credentials, refresh_margin)
        self.retry = retry
        # One refresh at a time: two would spend the refresh token twice, and the server
        # revokes a session whose refresh token comes back.
        self._refreshing = threading.Lock()
        self.tasks = Tasks(self)
        self.reminders = Reminders(self)
        self.notifications = Notifications(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # Accounts ---------------------------------------------------------------------------

    def register(self, email: str, password: str, timezone: str = "UTC") -> Registered:
        registered = self.send(calls.register(email, password, timezone))
        self.session.store(registered)
        return registered

    def login(self, email: str, password: str) -> TokenPair:
        pair = self.send(calls.login(email, password))
        self.session.store(pair)
        return pair

    def refresh(self) -> None:
        """Exchange the refresh token for the next pair now."""
        self._refresh(self.session.generation)

    def logout(self) -> None:
        """End this session on the server and forget its tokens."""
        credentials = self.session.credentials
        if credentials is not None and credentials.refresh_token is not None:
            self.send(calls.logout(credentials.refresh_token))
        self.session.store(None)

    def me(self) -> User:
        return self.send(calls.me())

    def changes(self, since: int = 0, limit: int | None = None) -> Iterator[Change]:
        """Every change after `since`, in sequence order, fetched a batch at a time."""
        while True:
            feed = self.send(calls.changes(since, limit))
            yield from (Change.from_cloudevent(event) for event in feed.events)
            if not feed.has_more:
                return
            since = feed.last_seq

    # Sending ----------------------------------------------------------------------------

    def send(self, call: Call[T]) -> T:
        if call.authenticated and self.session.expiring():
            self._refresh(self.session.generation)
        seen = self.session.generation
        response = self._attempts(call)
        if response.status_code == 401 and call.authenticated and self.session.refreshable:
            self._refresh(seen)
            response = self._attempts(call)
        return call.finish(response)

    def _attempts(self, call: Call[Any]) -> httpx.Response:
        attempt = 1
        while True:
            response: httpx.Response | None = None
            headers = {**call.headers, **(self.session.headers if call.authenticated else {})}
            try:
                response = self.http.request(
                    call.method, call.path, params=call.params, json=call.body, headers=headers
                )
            except httpx.TransportError:
                if not (call.repeatable and self.retry.should_retry(attempt, None)):
                    raise
            else:
                if not (call.repeatable and self.retry.should_retry(attempt, response)):
                    return response
            time.sleep(self.retry.delay(attempt, response))
            attempt += 1

    def _refresh(self, seen: int) -> None:
        with self._refreshing:
            if self.session.generation != seen:
                return  # another thread refreshed while this one waited
            credentials = self.session.credentials
            if credentials is None or credentials.refresh_token is None:
                raise RuntimeError("no refresh token: log in first")
            try:
                pair = self.send(calls.refresh(credentials.refresh_token))
            except Unauthenticated:
                self.session.store(None)
                raise
            self.session.store(pair)


def _items(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


class Tasks:
    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self,
        text: str | None = None,
        *,
        idempotency_key: str | None = None,
        **fields: Unpack[TaskFields],
    ) -> Task:
        """Create from fields, a quick-add `text`, or both (fields win). Retried on a dropped
        connection or a 503 with the same Idempotency-Key, so it creates one task."""
        body = {**({"text": text} if text is not None else {}), **fields}
        return self._client.send(calls.create_task(body, idempotency_key))

    def parse(self, text: str) -> ParsedTask:
        return self._client.send(calls.parse(text))

    def search(self, text: str, limit: int | None = None) -> list[Task]:
        """Full-text search over title and description, the best matches first."""
        return self._client.send(calls.search(text, limit)).items

    def get(self, task_id: str) -> Task:
        return self._client.send(calls.get_task(task_id))

    def list(self, cursor: str | None = None, **filters: Unpack[TaskFilters]) -> Page[Task]:
        return self._client.send(calls.list_tasks(filters, cursor))

    def iterate(self, **filters: Unpack[TaskFilters]) -> Iterator[Task]:
        """Every matching task, page after page."""
        return _items(lambda cursor: self.list(cursor, **filters))

    def update(
        self, task: Task | str, version: Version = UNSET, **fields: Unpack[TaskFields]
    ) -> Task:
        """Change fields, with If-Match: a stale version raises StaleVersion."""
        task_id, if_match = calls.target(task, version)
        return self._client.send(calls.update_task(task_id, if_match, fields))

    def complete(self, task: Task | str, version: Version = UNSET) -> Task:
        return self._client.send(calls.task_action(*calls.target(task, version), "complete"))

    def reopen(self, task: Task | str, version: Version = UNSET) -> Task:
        return self._client.send(calls.task_action(*calls.target(task, version), "reopen"))

    def delete(self, task: Task | str, version: Version = UNSET) -> None:
        self._client.send(calls.delete_task(*calls.target(task, version)))


class Reminders:
    def __init__(self, client: Client) -> None:
        self._client = client

    def iterate(
        self, task_id: str | None = None, pending: bool | None = None
    ) -> Iterator[Reminder]:
        return _items(
            lambda cursor: self._client.send(calls.list_reminders(task_id, pending, cursor))
        )

    def add(
        self,
        task_id: str,
        *,
        remind_at: datetime | None = None,
        before: str | None = None,
        message: str | None = None,
    ) -> Reminder:
        """At a moment (`remind_at`) or an ISO 8601 duration `before` the due time."""
        return self._client.send(calls.add_reminder(task_id, remind_at, before, message))

    def delete(self, reminder_id: str) -> None:
        self._client.send(calls.delete_reminder(reminder_id))

    def snooze(
        self, reminder_id: str, *, minutes: int | None = None, until: datetime | None = None
    ) -> Reminder:
        return self._client.send(calls.snooze_reminder(reminder_id, minutes, until))


class Notifications:
    def __init__(self, client: Client) -> None:
        self._client = client

    def iterate(self, unread: bool | None = None) -> Iterator[Notification]:
        return _items(lambda cursor: self._client.send(calls.list_notifications(unread, cursor)))

    def read(self, notification_id: str) -> Notification:
        return self._client.send(calls.read_notification(notification_id))

    def read_all(self) -> int:
        """Mark every notification read; answers how many were unread."""
        return self._client.send(calls.read_all_notifications())
