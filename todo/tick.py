"""One tick of the clock: deliver due reminders, relay the outbox, report the backlog.

A tick looks at the database only when a reminder may be due (`todo.next_due`): with
nobody active, the deployment sends Postgres nothing. Due reminders are claimed in
bounded batches, each in its own transaction with the reminder.due events it writes, so
a tick over a large backlog commits as it goes and never holds many locks for long. A
look also relays the outbox; events a running process left there it relays itself
(`todo.publishing`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from todo import metrics, reminders
from todo.relay import backlog, relay_outbox
from todo.runtime import runtime
from todo.unit_of_work import unit_of_work

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickResult:
    looked: bool  # False: no reminder can be due yet, and the database was left alone
    delivered: int
    skipped: int
    relayed: int
    backlog: int
    oldest_unpublished_seconds: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


async def run_tick(batch: int = 500, max_batches: int = 100) -> TickResult:
    rt = runtime()
    now = rt.clock.now()
    if not rt.next_due.should_look(now):
        metrics.instruments().tick_last_success.set(now.timestamp())
        return TickResult(False, 0, 0, 0, 0, 0.0)
    rt.next_due.looking()
    async with unit_of_work() as work:
        skipped = await reminders.set_aside(work)
    delivered = 0
    for _ in range(max_batches):
        async with unit_of_work() as work:
            claimed = await reminders.claim_due(work, batch)
        delivered += claimed.delivered
        skipped += claimed.skipped
        if claimed.delivered + claimed.skipped < batch:
            break
    rt.next_due.looked(now, await rt.database.read(reminders.earliest_pending))
    now = rt.clock.now()
    relayed = (
        await relay_outbox(
            rt.database,
            rt.publisher,
            now,
            older_than=timedelta(seconds=rt.settings.relay_after_seconds),
        )
    ).sent
    left = await backlog(rt.database, now)
    if relayed:
        log.info(
            "relayed events from the outbox",
            extra={"relayed": relayed, "backlog": left.unpublished},
        )
    m = metrics.instruments()
    m.reminders_delivered.inc(delivered)
    m.outbox_backlog.set(left.unpublished)
    m.outbox_oldest_unpublished.set(left.oldest_seconds)
    m.tick_last_success.set(now.timestamp())
    return TickResult(True, delivered, skipped, relayed, left.unpublished, left.oldest_seconds)
