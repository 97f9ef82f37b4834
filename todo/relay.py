"""The relay: publish what the after-commit path did not, oldest first.

Events stay in the outbox until the bus takes them (sidecar down, process stopped before
publishing, a dead letter replayed). The tick calls `relay_outbox`, and so does a process
whose after-commit publisher handed events over (`todo.publishing`); an advisory lock lets
one relay run at a time, so two never send the same batch twice, and each batch is sent in
per-user sequence order. It takes only events older than RELAY_AFTER_SECONDS; the
after-commit publisher hands over at half that age, so a slow moment never has both paths
sending the same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from todo import outbox
from todo.db import Database

if TYPE_CHECKING:
    from todo.publishing import Publisher

RELAY_LOCK = 0x72656C6179  # "relay"


@dataclass(frozen=True)
class Relayed:
    sent: int
    # False when the bus did not take all it was given, or the batches ran out: events of
    # the relay's age are still unpublished.
    complete: bool


async def relay_outbox(
    database: Database,
    publisher: Publisher,
    now: datetime,
    *,
    older_than: timedelta,
    batch: int = 500,
    max_batches: int = 20,
) -> Relayed:
    """Publish unpublished events older than `older_than`; say how many the bus took."""
    relayed = 0
    for _ in range(max_batches):
        async with database.transaction() as conn:
            if not await conn.fetchval("select pg_try_advisory_xact_lock($1)", RELAY_LOCK):
                return Relayed(relayed, complete=True)  # another relay is at work
            rows = await conn.fetch(
                """
                select id, user_id, seq, type, source, subject, topic, data, occurred_at
                from events
                where published_at is null and occurred_at <= $1
                order by occurred_at, user_id, seq
                limit $2
                """,
                now - older_than,
                batch,
            )
            pending = sorted(
                (outbox.event_from_row(r) for r in rows), key=lambda e: (e.user_id, e.seq)
            )
            taken = list(await publisher.publish(pending)) if pending else []
            if taken:
                await conn.execute(outbox.MARK_PUBLISHED, outbox.text_ids(taken), now)
        relayed += len(taken)
        if len(taken) < len(rows):
            return Relayed(relayed, complete=False)
        if len(rows) < batch:
            return Relayed(relayed, complete=True)
    return Relayed(relayed, complete=False)


@dataclass(frozen=True)
class Backlog:
    unpublished: int
    oldest_seconds: float


async def backlog(database: Database, now: datetime) -> Backlog:
    async with database.transaction() as conn:
        row = await conn.fetchrow(
            """
            select count(*) as n, min(occurred_at) as oldest
            from events where published_at is null
            """
        )
    assert row is not None
    oldest = 0.0 if row["oldest"] is None else max((now - row["oldest"]).total_seconds(), 0.0)
    return Backlog(row["n"], oldest)
