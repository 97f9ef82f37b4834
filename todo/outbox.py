"""The outbox table: append events with the owner's next sequence, read the change feed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from todo.db import Connection, Database
from todo.events import Event, topic_of

# One round trip: take the owner's next sequence number (the counter row stays locked
# until commit, which keeps each user's sequence gapless) and insert the event with it.
APPEND_EVENT = """
with next_seq as (
    insert into event_sequences as s (user_id, last_seq) values ($2, 1)
    on conflict (user_id) do update set last_seq = s.last_seq + 1
    returning last_seq
)
insert into events (id, user_id, seq, type, source, subject, topic, data, occurred_at)
select $1, $2, last_seq, $3, $4, $5, $6, $7, $8 from next_seq
returning seq
"""


async def append_event(
    conn: Connection,
    *,
    user_id: UUID,
    type: str,
    source: str,
    subject: str,
    data: dict[str, Any],
    now: datetime,
) -> Event:
    event_id = uuid4()
    topic = topic_of(type)
    seq = await conn.fetchval(
        APPEND_EVENT, event_id, user_id, type, source, subject, topic, data, now
    )
    return Event(event_id, user_id, seq, type, source, subject, topic, data, now)


MARK_PUBLISHED = "update events set published_at = $2 where id = any($1) and published_at is null"


async def mark_published(database: Database, ids: Sequence[UUID], now: datetime) -> None:
    await database.execute_idempotent(MARK_PUBLISHED, list(ids), now)


def event_from_row(row: asyncpg.Record) -> Event:
    return Event(
        id=row["id"],
        user_id=row["user_id"],
        seq=row["seq"],
        type=row["type"],
        source=row["source"],
        subject=row["subject"],
        topic=row["topic"],
        data=row["data"],
        time=row["occurred_at"],
    )


async def changes_since(conn: Connection, user_id: UUID, since: int, limit: int) -> list[Event]:
    """The user's events with a sequence above `since`, in order, at most `limit`."""
    rows = await conn.fetch(
        """
        select id, user_id, seq, type, source, subject, topic, data, occurred_at
        from events
        where user_id = $1 and seq > $2
        order by seq
        limit $3
        """,
        user_id,
        since,
        limit,
    )
    return [event_from_row(r) for r in rows]
