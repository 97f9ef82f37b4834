"""The in-process event bus `todo dev` and the tests publish to instead of Dapr.

Subscribers get each event in publish order. An event is marked published once every
subscriber of its topic has taken it, so stopping the process before that leaves it in
the outbox, and the relay delivers it again on the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from todo import outbox
from todo.clock import Clock
from todo.db import Database
from todo.events import Event

log = logging.getLogger(__name__)

Deliver = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    name: str
    topic: str
    deliver: Deliver


class LocalBus:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._database = database
        self._clock = clock
        self._subscriptions: dict[str, list[Subscription]] = defaultdict(list)
        self._queue: asyncio.Queue[Event] | None = None
        self._worker: asyncio.Task[None] | None = None

    def subscribe(self, name: str, topic: str, deliver: Deliver) -> None:
        self._subscriptions[topic].append(Subscription(name, topic, deliver))

    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        queue = self._ensure_worker()
        for event in events:
            queue.put_nowait(event)
        # Nothing is durable yet; the worker marks each event once it is delivered.
        return []

    async def drain(self) -> None:
        """Wait until every event published so far has been handled."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
            self._queue = None

    def _ensure_worker(self) -> asyncio.Queue[Event]:
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(self._queue), name="local-bus")
        return self._queue

    async def _run(self, queue: asyncio.Queue[Event]) -> None:
        while True:
            event = await queue.get()
            try:
                await self._handle(event)
            except Exception:
                log.exception("local bus could not handle event", extra={"event_id": str(event.id)})
            finally:
                queue.task_done()

    async def _handle(self, event: Event) -> None:
        cloudevent = event.to_cloudevent()
        for subscription in self._subscriptions.get(event.topic, []):
            await subscription.deliver(cloudevent)
        async with self._database.transaction() as conn:
            await outbox.mark_published(conn, [event.id], self._clock.now())
