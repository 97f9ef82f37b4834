"""Dead letters: events that can never be processed, or that ran out of retries.

They are kept with the reason, for an operator to inspect and replay. Replaying an event
of our own outbox marks it unpublished again: the relay sends it to its topic once more,
consumers that already took it skip it, and the one that failed gets another try.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from todo.db import Connection
from todo.errors import NotFound


@dataclass(frozen=True)
class DeadLetter:
    id: UUID
    event_id: str | None
    event_type: str | None
    topic: str
    subscriber: str | None
    reason: str
    event: dict[str, Any] | None
    raw: str | None
    received_at: datetime
    replayed_at: datetime | None
    replay_count: int


_COLUMNS = (
    "id, event_id, event_type, topic, subscriber, reason, event, raw, received_at, "
    "replayed_at, replay_count"
)


async def store(
    conn: Connection,
    *,
    topic: str,
    reason: str,
    now: datetime,
    event: dict[str, Any] | None = None,
    raw: bytes | None = None,
    subscriber: str | None = None,
) -> UUID:
    dead_letter_id = uuid4()
    await conn.execute(
        f"""
        insert into dead_letters ({_COLUMNS})
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, null, 0)
        """,
        dead_letter_id,
        None if event is None else str(event.get("id")),
        None if event is None else str(event.get("type")),
        topic,
        subscriber,
        reason,
        _json_safe(event),
        None if raw is None else raw.decode("utf-8", errors="replace"),
        now,
    )
    return dead_letter_id


def _json_safe(event: dict[str, Any] | None) -> dict[str, Any] | None:
    if event is None:
        return None
    safe: dict[str, Any] = json.loads(json.dumps(event, default=str))
    return safe


async def recent(conn: Connection, limit: int = 50) -> list[DeadLetter]:
    rows = await conn.fetch(
        f"select {_COLUMNS} from dead_letters order by received_at desc, id limit $1", limit
    )
    return [DeadLetter(**dict(r)) for r in rows]


async def get(conn: Connection, dead_letter_id: UUID) -> DeadLetter:
    row = await conn.fetchrow(f"select {_COLUMNS} from dead_letters where id = $1", dead_letter_id)
    if row is None:
        raise NotFound(f"no dead letter {dead_letter_id}")
    return DeadLetter(**dict(row))


async def replay(conn: Connection, dead_letter_id: UUID, now: datetime) -> str:
    """Queue a dead letter's event for the relay again; say what happened."""
    letter = await get(conn, dead_letter_id)
    try:
        event_id = UUID(letter.event_id or "")
    except ValueError:
        return "not replayable: not an event of this outbox"
    requeued = await conn.fetchval(
        "update events set published_at = null where id = $1 returning true", event_id
    )
    if not requeued:
        return "not replayable: not an event of this outbox"
    await conn.execute(
        """
        update dead_letters set replayed_at = $2, replay_count = replay_count + 1
        where event_id = $1
        """,
        str(event_id),
        now,
    )
    return "queued for the relay"


async def unreplayed(conn: Connection) -> list[UUID]:
    rows = await conn.fetch(
        "select id from dead_letters where replayed_at is null order by received_at"
    )
    return [r["id"] for r in rows]
