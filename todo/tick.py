"""One tick of the clock: deliver due reminders, relay the outbox, report the backlog.

Due reminders are claimed in bounded batches, each in its own transaction with the
reminder.due events it writes, so a tick over a large backlog commits as it goes and
never holds many locks for long.
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
    delivered: int
    skipped: int
    relayed: int
    backlog: int
    oldest_unpublished_seconds: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


async def run_tick(batch: int = 500, max_batches: int = 100) -> TickResult:
    rt = runtime()
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
    now = rt.clock.now()
    relayed = await relay_outbox(
        rt.database,
        rt.publisher,
        now,
        older_than=timedelta(seconds=rt.settings.relay_after_seconds),
    )
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
    return TickResult(delivered, skipped, relayed, left.unpublished, left.oldest_seconds)
