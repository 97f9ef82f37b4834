"""One change: a transaction, or a single statement, with the events it emits, and their
publication after commit."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from todo import context, outbox
from todo.db import Connection
from todo.event_types import Payload
from todo.events import Event
from todo.publishing import Reservation
from todo.runtime import runtime

log = logging.getLogger(__name__)


@dataclass
class UnitOfWork:
    conn: Connection
    now: datetime
    source: str
    reservation: Reservation
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def emit(self, user_id: UUID, payload: Payload, subject: str) -> Event:
        """Write an event to the outbox in this transaction; it is published after commit.
        Its type, and so its topic, is the payload's."""
        (event,) = await self.emit_many([outbox.Draft(user_id, subject, payload)])
        return event

    async def emit_many(self, drafts: Sequence[outbox.Draft]) -> list[Event]:
        """Many events in one statement, numbered in the order given.

        They take their place in the publisher's line now, while this transaction still
        holds the users' counter rows: so a later change of the same user, which can only
        append after this one commits, is never published before it."""
        appended = await outbox.append_events(self.conn, drafts, source=self.source, now=self.now)
        self.reservation.add(appended)
        return appended


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[UnitOfWork]:
    rt = runtime()
    reservation = rt.outgoing.reservation()
    try:
        async with rt.database.transaction() as conn:
            work = UnitOfWork(conn, rt.clock.now(), _source(), reservation)
            yield work
    except BaseException:
        # Rolled back, or the commit's outcome is unknown: if it did commit, the relay
        # sends the events.
        reservation.discard()
        raise
    reservation.commit()
    for callback in work.after_commit:
        try:
            await callback()
        except Exception:
            log.exception("an after-commit step failed")


async def in_one_statement(
    user_id: UUID, drafts: Sequence[outbox.Draft], now: datetime, query: str, *args: object
) -> list[Event]:
    """A change of `user_id`'s made by one statement, which appends the events of `drafts`
    announcing it: `query` makes the change in CTEs and ends with `outbox.appending_after`,
    gated on the change, whose parameters follow `args`. Returns the events appended (none
    if the change did not happen); they are published after commit as a unit of work's are.

    One round trip and no transaction to open or commit: a create took four. The statement
    must be safe to run twice (ids fixed before it is sent make a repeat change nothing):
    on a pooled connection found dead it runs again on another, and if the first run did
    commit, the second appends nothing and the relay sends the first's events.
    """
    rt = runtime()
    appending = outbox.Appending(drafts, _source(), now)
    reservation = rt.outgoing.reservation()
    reservation.hold(user_id)
    try:
        rows = await rt.database.read(lambda conn: conn.fetch(query, *args, *appending.arguments()))
    except BaseException:
        reservation.discard()
        raise
    events = appending.events(rows)
    reservation.add(events)
    reservation.commit()
    return events


def _source() -> str:
    """Where this process's events come from, as their CloudEvent `source` says."""
    rt = runtime()
    return f"/functions/{context.function.get() or rt.settings.function_name}"
