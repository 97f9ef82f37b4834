"""The asyncio client: `AsyncClient(base_url)`, the same calls as `Client`, awaited, and
`live()`, the websocket's changes as they happen."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from todo_client import calls
from todo_client.calls import UNSET, Call, TaskFields, TaskFilters, Unpack, Version
from todo_client.credentials import Credentials, CredentialsHook, Session
from todo_client.errors import Unauthenticated
from todo_client.live import LiveChanges
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


class AsyncClient:
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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self.session = Session(credentials, on_credentials, refresh_margin)
        self.retry = retry
        # One refresh at a time: two would spend the refresh token twice, and the server
        # revokes a session whose refresh token comes back.
        self._refreshing = asyncio.Lock()
        self.tasks = AsyncTasks(self)
        self.reminders = AsyncReminders(self)
        self.notifications = AsyncNotifications(self)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    # Accounts ---------------------------------------------------------------------------

    async def register(self, email: str, password: str, timezone: str = "UTC") -> Registered:
        registered = await self.send(calls.register(email, password, timezone))
        self.session.store(registered)
        return registered

    async def login(self, email: str, password: str) -> TokenPair:
        pair = await self.send(calls.login(email, password))
        self.session.store(pair)
        return pair

    async def refresh(self) -> None:
        """Exchange the refresh token for the next pair now."""
        await self._refresh(self.session.generation)

    async def logout(self) -> None:
        """End this session on the server and forget its tokens."""
        credentials = self.session.credentials
        if credentials is not None and credentials.refresh_token is not None:
            await self.send(calls.logout(credentials.refresh_token))
        self.session.store(None)

    async def me(self) -> User:
        return await self.send(calls.me())

    async def changes(self, since: int = 0, limit: int | None = None) -> AsyncIterator[Change]:
        """Every change after `since`, in sequence order, fetched a batch at a time."""
        while True:
            feed = await self.send(calls.changes(since, limit))
            for event in feed.events:
                yield Change.from_cloudevent(event)
            if not feed.has_more:
                return
            since = feed.last_seq

    def live(self, since: int | None = None) -> LiveChanges:
        """`async for change in client.live(since=n)`: the changes after n (from now without
        it), then each one as it happens, across reconnects (todo_client/live.py)."""
        base = self.http.base_url
        url = str(base.copy_with(scheme="wss" if base.scheme == "https" else "ws").join("/ws"))
        return LiveChanges(url, self._access_token, self.refresh, since, self.retry)

    async def _access_token(self) -> str:
        if self.session.expiring():
            await self._refresh(self.session.generation)
        if self.session.credentials is None:
            raise RuntimeError("not signed in: log in first")
        return self.session.credentials.access_token

    # Sending ----------------------------------------------------------------------------

    async def send(self, call: Call[T]) -> T:
        if call.authenticated and self.session.expiring():
            await self._refresh(self.session.generation)
        seen = self.session.generation
        response = await self._attempts(call)
        if response.status_code == 401 and call.authenticated and self.session.refreshable:
            await self._refresh(seen)
            response = await self._attempts(call)
        return call.finish(response)

    async def _attempts(self, call: Call[Any]) -> httpx.Response:
        attempt = 1
        while True:
            response: httpx.Response | None = None
            headers = {**call.headers, **(self.session.headers if call.authenticated else {})}
            try:
                response = await self.http.request(
                    call.method, call.path, params=call.params, json=call.body, headers=headers
                )
            except httpx.TransportError:
                if not (call.repeatable and self.retry.should_retry(attempt, None)):
                    raise
            else:
                if not (call.repeatable and self.retry.should_retry(attempt, response)):
                    return response
            await asyncio.sleep(self.retry.delay(attempt, response))
            attempt += 1

    async def _refresh(self, seen: int) -> None:
        async with self._refreshing:
            if self.session.generation != seen:
                return  # another task refreshed while this one waited
            credentials = self.session.credentials
            if credentials is None or credentials.refresh_token is None:
                raise RuntimeError("no refresh token: log in first")
            try:
                pair = await self.send(calls.refresh(credentials.refresh_token))
            except Unauthenticated:
                self.session.store(None)
                raise
            self.session.store(pair)


async def _items(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> AsyncIterator[T]:
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        for item in page.items:
            yield item
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


class AsyncTasks:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self,
        text: str | None = None,
        *,
        idempotency_key: str | None = None,
        **fields: Unpack[TaskFields],
    ) -> Task:
        """Create from fields, a quick-add `text`, or both (fields win). Retried on a dropped
        connection or a 503 with the same Idempotency-Key, so it creates one task."""
        body = {**({"text": text} if text is not None else {}), **fields}
        return await self._client.send(calls.create_task(body, idempotency_key))

    async def parse(self, text: str) -> ParsedTask:
        return await self._client.send(calls.parse(text))

    async def search(self, text: str, limit: int | None = None) -> list[Task]:
        """Full-text search over title and description, the best matches first."""
        return (await self._client.send(calls.search(text, limit))).items

    async def get(self, task_id: str) -> Task:
        return await self._client.send(calls.get_task(task_id))

    async def list(self, cursor: str | None = None, **filters: Unpack[TaskFilters]) -> Page[Task]:
        return await self._client.send(calls.list_tasks(filters, cursor))

    def iterate(self, **filters: Unpack[TaskFilters]) -> AsyncIterator[Task]:
        """Every matching task, page after page."""
        return _items(lambda cursor: self.list(cursor, **filters))

    async def update(
        self, task: Task | str, version: Version = UNSET, **fields: Unpack[TaskFields]
    ) -> Task:
        """Change fields, with If-Match: a stale version raises StaleVersion."""
        task_id, if_match = calls.target(task, version)
        return await self._client.send(calls.update_task(task_id, if_match, fields))

    async def complete(self, task: Task | str, version: Version = UNSET) -> Task:
        return await self._client.send(calls.task_action(*calls.target(task, version), "complete"))

    async def reopen(self, task: Task | str, version: Version = UNSET) -> Task:
        return await self._client.send(calls.task_action(*calls.target(task, version), "reopen"))

    async def delete(self, task: Task | str, version: Version = UNSET) -> None:
        await self._client.send(calls.delete_task(*calls.target(task, version)))


class AsyncReminders:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def iterate(
        self, task_id: str | None = None, pending: bool | None = None
    ) -> AsyncIterator[Reminder]:
        return _items(
            lambda cursor: self._client.send(calls.list_reminders(task_id, pending, cursor))
        )

    async def add(
        self,
        task_id: str,
        *,
        remind_at: datetime | None = None,
        before: str | None = None,
        message: str | None = None,
    ) -> Reminder:
        """At a moment (`remind_at`) or an ISO 8601 duration `before` the due time."""
        return await self._client.send(calls.add_reminder(task_id, remind_at, before, message))

    async def delete(self, reminder_id: str) -> None:
        await self._client.send(calls.delete_reminder(reminder_id))

    async def snooze(
        self, reminder_id: str, *, minutes: int | None = None, until: datetime | None = None
    ) -> Reminder:
        return await self._client.send(calls.snooze_reminder(reminder_id, minutes, until))


class AsyncNotifications:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    def iterate(self, unread: bool | None = None) -> AsyncIterator[Notification]:
        return _items(lambda cursor: self._client.send(calls.list_notifications(unread, cursor)))

    async def read(self, notification_id: str) -> Notification:
        return await self._client.send(calls.read_notification(notification_id))

    async def read_all(self) -> int:
        """Mark every notification read; answers how many were unread."""
        return await self._client.send(calls.read_all_notifications())
