"""Running event consumers exactly once per event, and dead-lettering what cannot succeed.

A consumer records the event as processed in the same transaction as its effect, so a
redelivered event (at-least-once delivery) changes nothing. A consumer whose effect is one
statement claims the events inside that statement (`claim_in`), which is a transaction on
its own: no BEGIN and COMMIT round trips around it, and one statement for all the events
of a bulk delivery it takes. A topic carries types a
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


@dataclass(frozen=True)
class OneStatement:
    """An effect made by one statement for any number of events: `statement` (made by
    `claimed_then`) takes, after the claim's three parameters, one text[] per value that
    `row` reads from an event (None for null); `row` raises PoisonEvent for an event it
    cannot read, before anything is written."""

    statement: str
    row: Callable[[IncomingEvent], tuple[str | None, ...]]


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


async def consume(
    consumers: Sequence[Consumer], events: Sequence[IncomingEvent], topic: str
) -> None:
    """Give each of `events` (one delivery's, in order) to every consumer that takes its
    type; the others ignore it. A `claim_in` consumer takes all of its in one statement."""
    for event in events:
        if not any(event.type in c.types for c in consumers):
            log.debug("no consumer takes this event type", extra={"event_type": event.type})
    for consumer in consumers:
        mine = [event for event in events if event.type in consumer.types]
        _count(consumer, "ignored", len(events) - len(mine))
        if consumer.claim_in is not None:
            await _consume_in_one_statement(consumer, consumer.claim_in, mine, topic)
        else:
            for event in mine:
                await _consume_in_unit_of_work(consumer, event, topic)


def _count(consumer: Consumer, outcome: str, events: int = 1) -> None:
    if events:
        counter = metrics.instruments().events_processed
        metrics.labelled(counter, consumer.name, outcome).inc(events)


CLAIM_EVENTS = """
insert into processed_events (consumer, event_id, processed_at)
select $1, event_id, $3 from unnest($2::text[]) as c(event_id)
on conflict do nothing returning event_id
"""


def claimed_then(effect: str) -> str:
    """One statement: claim the events ($1 consumer, $2 event ids as text[], $3 now) and
    run `effect` for those that are new (a data-modifying statement that joins `claimed`
    on `event_id`); it answers the ids of the new ones."""
    return f"with claimed as ({CLAIM_EVENTS}),\neffect as ({effect})\nselect event_id from claimed"


async def _consume_in_one_statement(
    consumer: Consumer, effect: OneStatement, events: Sequence[IncomingEvent], topic: str
) -> None:
    taken: list[IncomingEvent] = []
    rows: list[tuple[str | None, ...]] = []
    for event in events:
        try:
            rows.append(effect.row(event))
        except PoisonEvent as exc:
            await dead_letter(event, topic, str(exc), subscriber=consumer.name)
            _count(consumer, "dead_lettered")
        else:
            taken.append(event)
    if not taken:
        return
    rt = runtime()
    columns = [list(column) for column in zip(*rows, strict=True)]
    try:
        # Safe to run again on another connection (what `read` does when the first died):
        # the claims made the first time make the second do nothing.
        claimed = await rt.database.read(
            lambda conn: conn.fetch(
                effect.statement, consumer.name, [e.id for e in taken], rt.clock.now(), *columns
            )
        )
    except Exception:
        # Counted before the platform retries it: TodoEventsFailing watches this.
        _count(consumer, "failed", len(taken))
        raise
    new = {row["event_id"] for row in claimed}
    processed = sum(event.id in new for event in taken)
    _count(consumer, "processed", processed)
    _count(consumer, "duplicate", len(taken) - processed)


async def _consume_in_unit_of_work(consumer: Consumer, event: IncomingEvent, topic: str) -> None:
    assert consumer.handle is not None
    try:
        async with unit_of_work() as work:
            fresh = bool(await work.conn.fetch(CLAIM_EVENTS, consumer.name, [event.id], work.now))
            if fresh:
                await consumer.handle(work, event)
        outcome = "processed" if fresh else "duplicate"
    except PoisonEvent as exc:
        await dead_letter(event, topic, str(exc), subscriber=consumer.name)
        outcome = "dead_lettered"
    except Exception:
        _count(consumer, "failed")
        raise
    _count(consumer, outcome)


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
