"""Running event consumers exactly once per event, and dead-lettering what cannot succeed.

A consumer records the event as processed in the same transaction as its effect, so a
redelivered event (at-least-once delivery) changes nothing. A consumer whose effect is one
statement claims the event inside that statement (`claim_in`), which is a transaction on
its own: no BEGIN and COMMIT round trips around it. A topic carries types a
consumer does not take (notify sees every reminder event, and wants only the due ones):
those are acknowledged and counted as ignored. An event a consumer takes but can never
process (its payload does not validate, no owner) raises `PoisonEvent`: it is stored as
a dead letter with the reason and acknowledged, since retrying it would only fail again.
Anything else (the database gone) is counted as failed and propagates, and the platform
retries with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from todo import dead_letters, metrics
from todo.incoming import IncomingEvent
from todo.runtime import runtime
from todo.unit_of_work import UnitOfWork, unit_of_work

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, IncomingEvent], Awaitable[None]]
# The statement that claims the event and has the effect (see `claimed_then`), with the
# arguments that follow the claim's three.
OneStatement = Callable[[IncomingEvent], tuple[str, tuple[object, ...]]]


class PoisonEvent(Exception):
    """This event can never be processed; say why."""


@dataclass(frozen=True)
class Consumer:
    """Takes events of `types`: in a unit of work (`handle`), or as one statement that also
    claims the event (`claim_in`); one of the two."""

    name: str
    types: frozenset[str]
    handle: Handler | None = None
    claim_in: OneStatement | None = None

    def __post_init__(self) -> None:
        if (self.handle is None) == (self.claim_in is None):
            raise ValueError(f"consumer {self.name}: give handle or claim_in, not both")
        metrics.expect_consumer(self.name)


M = TypeVar("M", bound=BaseModel)


def event_data(model: type[M], event: IncomingEvent) -> M:
    """The event's data as `model`, or PoisonEvent naming what is wrong."""
    try:
        return model.model_validate(event.data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "data" for e in exc.errors())
        raise PoisonEvent(f"invalid data in {event.type}: {fields}") from None


async def consume(consumers: Sequence[Consumer], event: IncomingEvent, topic: str) -> None:
    """Give `event` to every consumer that takes its type; the others ignore it."""
    if not any(event.type in c.types for c in consumers):
        log.debug("no consumer takes this event type", extra={"event_type": event.type})
    for consumer in consumers:
        if event.type not in consumer.types:
            outcome = "ignored"
        else:
            try:
                outcome = await _consume_once(consumer, event)
            except PoisonEvent as exc:
                await dead_letter(event, topic, str(exc), subscriber=consumer.name)
                outcome = "dead_lettered"
            except Exception:
                # Counted before the platform retries it: TodoEventsFailing watches this.
                _count(consumer, "failed")
                raise
        _count(consumer, outcome)


def _count(consumer: Consumer, outcome: str) -> None:
    metrics.labelled(metrics.instruments().events_processed, consumer.name, outcome).inc()


CLAIM_EVENT = """
insert into processed_events (consumer, event_id, processed_at) values ($1, $2, $3)
on conflict do nothing returning true
"""


def claimed_then(effect: str) -> str:
    """One statement: claim the event ($1 consumer, $2 event id, $3 now) and, only if it is
    new, run `effect` (a data-modifying statement that reads `claimed`, as in
    `where exists (select from claimed)`); it answers whether the event was new."""
    return (
        f"with claimed as ({CLAIM_EVENT}),\neffect as ({effect})\n"
        "select exists (select from claimed)"
    )


async def _consume_once(consumer: Consumer, event: IncomingEvent) -> str:
    if consumer.claim_in is not None:
        sql, args = consumer.claim_in(event)  # PoisonEvent before anything is written
        rt = runtime()
        # Safe to run again on another connection (what `fetchval` does when the first
        # died): a claim made the first time makes the second do nothing.
        fresh = await rt.database.fetchval(sql, consumer.name, event.id, rt.clock.now(), *args)
        return "processed" if fresh else "duplicate"
    assert consumer.handle is not None
    async with unit_of_work() as work:
        fresh = await work.conn.fetchval(CLAIM_EVENT, consumer.name, event.id, work.now)
        if not fresh:
            return "duplicate"
        await consumer.handle(work, event)
    return "processed"


async def dead_letter(
    event: IncomingEvent | None,
    topic: str,
    reason: str,
    *,
    subscriber: str | None = None,
    raw: bytes | None = None,
) -> None:
    rt = runtime()
    log.warning(
        "dead letter",
        extra={"topic": topic, "reason": reason, "event_id": event.id if event else None},
    )
    async with rt.database.transaction() as conn:
        await dead_letters.store(
            conn,
            topic=topic,
            reason=reason,
            now=rt.clock.now(),
            event=event.to_cloudevent() if event else None,
            raw=raw,
            subscriber=subscriber,
        )
    metrics.labelled(metrics.instruments().dead_letters, topic).inc()
