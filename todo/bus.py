"""The in-process event bus `todo dev` and the tests publish to instead of Dapr.

It follows Dapr's delivery rules, as the platform tests (tests/platform) see the real
sidecar apply them: every subscriber of a topic gets each event at least once, as the
structured CloudEvent Dapr would push; a subscriber that fails (an answer other than 2xx,
or RETRY) is retried with the backoff of dapr/resiliency.yaml; after the last attempt the
event goes, unchanged, to the topic's dead-letter topic. Each subscriber has its own queue, so a
failing one delays only itself. An event is marked published only once every
subscriber has taken it (or its dead-letter topic has), so stopping the process earlier
leaves it in the outbox, and the relay delivers it again after the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from todo import outbox
from todo.clock import Clock
from todo.db import Database
from todo.events import Event, dead_letter_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What a subscriber answered, read the way Dapr reads it."""

    status: int
    verdict: str | None = None  # SUCCESS, RETRY or DROP from a 2xx body

    @property
    def taken(self) -> bool:
        """Processed, or dropped on purpose (404 or DROP): either way, not to be retried."""
        if self.status == 404:
            return True
        return 200 <= self.status < 300 and self.verdict in (None, "SUCCESS", "DROP")


Deliver = Callable[[dict[str, Any]], Awaitable[Delivery]]


@dataclass(frozen=True)
class RetryPolicy:
    """Dapr's exponential retry of a delivery: `retries` after the first attempt, from
    Dapr's first interval (500 ms) growing by its multiplier (1.5) up to `max_interval`,
    without Dapr's jitter so that tests can check the waits."""

    retries: int
    max_interval: float
    first_interval: float = 0.5
    multiplier: float = 1.5

    def backoff(self, retry: int) -> float:
        """The wait before retry number `retry` (from 1)."""
        return min(self.first_interval * self.multiplier ** (retry - 1), self.max_interval)


@dataclass(frozen=True)
class Subscriber:
    name: str
    topic: str
    deliver: Deliver


class LocalBus:
    relays_untaken = False  # it marks what it delivers; the tick relays what is left

    def __init__(
        self,
        database: Database,
        clock: Clock,
        retry: RetryPolicy,
    ) -> None:
        self._database = database
        self._clock = clock
        self._retry = retry
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)
        self._queues: dict[Subscriber, asyncio.Queue[Event]] = {}
        self._workers: dict[Subscriber, asyncio.Task[None]] = {}
        self._waiting: dict[UUID, set[Subscriber]] = {}

    def subscribe(self, name: str, topic: str, deliver: Deliver) -> None:
        self._subscribers[topic].append(Subscriber(name, topic, deliver))

    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        """Queue each event for its subscribers. Events nobody subscribes to count as taken
        now; the others are marked published by the bus once delivered."""
        unheard: list[UUID] = []
        for event in events:
            if event.id in self._waiting:
                continue  # already on its way (the relay found it before delivery ended)
            subscribers = self._subscribers.get(event.topic, [])
            if not subscribers:
                unheard.append(event.id)
                continue
            self._waiting[event.id] = set(subscribers)
            for subscriber in subscribers:
                self._queue_for(subscriber).put_nowait(event)
        return unheard

    async def drain(self) -> None:
        """Wait until every event queued so far has been delivered or dead-lettered."""
        while self._waiting:
            await asyncio.gather(*(q.join() for q in self._queues.values()))

    @property
    def idle(self) -> bool:
        return not self._waiting

    async def close(self) -> None:
        """Stop delivering. What is undelivered stays unpublished in the outbox. A delivery
        cut short may publish in turn, which starts a worker: those are stopped too."""
        while self._workers:
            workers = list(self._workers.values())
            self._workers.clear()
            self._queues.clear()
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
        self._waiting.clear()

    def _queue_for(self, subscriber: Subscriber) -> asyncio.Queue[Event]:
        if subscriber not in self._queues:
            self._queues[subscriber] = asyncio.Queue()
            self._workers[subscriber] = asyncio.create_task(
                self._run(subscriber, self._queues[subscriber]), name=f"bus:{subscriber.name}"
            )
        return self._queues[subscriber]

    async def _run(self, subscriber: Subscriber, queue: asyncio.Queue[Event]) -> None:
        while True:
            event = await queue.get()
            try:
                await self._deliver(subscriber, event)
            except Exception:
                # Not marked published: the relay delivers it again later.
                log.exception("local delivery failed", extra={"subscriber": subscriber.name})
                self._waiting.pop(event.id, None)
            finally:
                queue.task_done()

    async def _deliver(self, subscriber: Subscriber, event: Event) -> None:
        cloudevent = {**event.to_cloudevent(), "topic": event.topic}
        reason = ""
        for attempt in range(self._retry.retries + 1):
            if attempt:
                await self._clock.sleep(self._retry.backoff(attempt))
            try:
                delivery = await subscriber.deliver(cloudevent)
            except Exception as exc:
                reason = f"delivery raised {exc!r}"
                continue
            if delivery.taken:
                await self._taken(subscriber, event)
                return
            reason = f"answered {delivery.status} {delivery.verdict or ''}".strip()
        await self._dead_letter(subscriber, event, cloudevent, reason)

    async def _dead_letter(
        self, subscriber: Subscriber, event: Event, cloudevent: dict[str, Any], reason: str
    ) -> None:
        """Publish the event as it came to the dead-letter topic, as Dapr does: the letter
        says neither why nor who, so the reason is only logged here."""
        topic = dead_letter_topic(event.topic)
        log.warning(
            "retries exhausted",
            extra={"subscriber": subscriber.name, "event_id": str(event.id), "reason": reason},
        )
        intakes = self._subscribers.get(topic, [])
        if not intakes:
            log.error("no dead-letter intake", extra={"topic": topic, "event_id": str(event.id)})
        for intake in intakes:
            delivery = await intake.deliver(cloudevent)
            if not delivery.taken:
                raise RuntimeError(f"dead-letter intake {intake.name} answered {delivery.status}")
        await self._taken(subscriber, event)

    async def _taken(self, subscriber: Subscriber, event: Event) -> None:
        waiting = self._waiting.get(event.id)
        if waiting is None:
            return
        waiting.discard(subscriber)
        if not waiting:
            # Marked before it leaves the waiting set: drain() returns only after the mark.
            await outbox.mark_published(self._database, [event.id], self._clock.now())
            self._waiting.pop(event.id, None)
