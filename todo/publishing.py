"""Handing committed events to the message bus.

A publisher returns the ids it has durably taken; only those are marked published.
Anything else stays in the outbox and the relay sends it later, so a failure here
delays an event and never loses it, and never fails the request that made it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from todo import metrics, outbox
from todo.events import Event

log = logging.getLogger(__name__)


class Publisher(Protocol):
    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        """Send `events` in order; return the ids the bus has taken."""
        ...

    async def close(self) -> None: ...


class OutboxOnly:
    """No bus reachable from here: events wait in the outbox for the relay."""

    async def publish(self, events: Sequence[Event]) -> Sequence[UUID]:
        return []

    async def close(self) -> None:
        return None


async def publish_committed(events: Sequence[Event]) -> None:
    """Publish events whose transaction has committed; never raises."""
    from todo.runtime import runtime

    rt = runtime()
    try:
        taken = await rt.publisher.publish(events)
    except Exception:
        log.exception("publish failed; the relay will retry", extra={"events": len(events)})
        taken = []
    for event in events:
        if event.id in taken:
            metrics.events_published.labels(event.topic).inc()
        else:
            metrics.events_publish_failures.labels(event.topic).inc()
    if not taken:
        return
    try:
        async with rt.database.transaction() as conn:
            await outbox.mark_published(conn, taken, rt.clock.now())
    except Exception:
        # The events went out; the relay will send them again and consumers drop repeats.
        log.exception("could not mark events published", extra={"events": len(taken)})
