"""After commit: counting committed changes and handing their events to the message bus,
from a background task, in commit order.

A change commits its events to the outbox; `AfterCommit` then publishes them from a
background task, so a request never waits on the bus: a slow or failing sidecar cannot
delay or fail it, and a cold start does not pay for the HTTP client. A publisher returns
the ids it has durably taken and only those are marked published. Whatever is not taken,
or still queued when the process stops, stays in the outbox and the relay sends it: a
failure delays an event, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from todo import metrics, outbox
from todo.clock import Clock
from todo.db import Database
from todo.events import Event

log = logging.getLogger(__name__)

BATCH = 100
MAX_QUEUED = 10_000


class Publisher(Protocol):
    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        """Send `events` in order, stopping at the first failure; return the ids taken."""
        ...

    async def relay(self, events: Sequence[Event]) -> Sequence[UUID]:
        """Send a relay batch (in bulk where the bus can); return the ids taken."""
        ...

    async def close(self) -> None: ...


class OutboxOnly:
    """No bus reachable from here: events wait in the outbox for the relay."""

    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        return []

    async def relay(self, events: Sequence[Event]) -> Sequence[UUID]:
        return []

    async def close(self) -> None:
        return None


class AfterCommit:
    """One background task per process that publishes committed events in order."""

    def __init__(self, publisher: Publisher, database: Database, clock: Clock) -> None:
        self.publisher = publisher
        self._database = database
        self._clock = clock
        self._queue: asyncio.Queue[Event] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._busy = False

    def submit(self, events: Sequence[Event]) -> None:
        """Queue committed events; never blocks and never raises."""
        queue = self._ensure_worker()
        for event in events:
            if queue.qsize() >= MAX_QUEUED:
                # The bus is far behind; the relay will pick these up from the outbox.
                metrics.count_committed([event])
                metrics.labelled(metrics.instruments().events_publish_failures, event.topic).inc()
                continue
            queue.put_nowait(event)

    async def drain(self) -> None:
        """Wait until everything submitted so far has been handled."""
        if self._queue is not None:
            await self._queue.join()

    @property
    def idle(self) -> bool:
        return self._queue is None or (self._queue.empty() and not self._busy)

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Publish what is queued (for at most `grace_seconds`), then stop."""
        if self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drain(), grace_seconds)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = self._queue = None
        await self.publisher.close()

    def _ensure_worker(self) -> asyncio.Queue[Event]:
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(self._queue), name="publish-after-commit")
        return self._queue

    async def _run(self, queue: asyncio.Queue[Event]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            self._busy = True
            try:
                await self._publish(batch)
            finally:
                self._busy = False
                for _ in batch:
                    queue.task_done()

    async def _publish(self, batch: Sequence[Event]) -> None:
        metrics.count_committed(batch)
        try:
            taken = set(await self.publisher.publish(batch))
        except Exception:
            log.exception("publish failed; the relay will retry", extra={"events": len(batch)})
            taken = set()
        m = metrics.instruments()
        for event in batch:
            counter = m.events_published if event.id in taken else m.events_publish_failures
            metrics.labelled(counter, event.topic).inc()
        if not taken:
            return
        try:
            await outbox.mark_published(self._database, list(taken), self._clock.now())
        except Exception:
            # The events went out; the relay will send them again and consumers drop repeats.
            log.exception("could not mark events published", extra={"events": len(taken)})
