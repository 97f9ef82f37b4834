"""Dead letters: events that can never be processed, or that ran out of retries.

They are kept with the reason, for an operator to inspect and replay. Replaying an event
of our own outbox marks it unpublished again: the relay sends it to its topic once more,
consumers that already took it skip it, and the one that failed gets another try.

There is one letter per subscriber and event (a body that was not an event counts as
its hash): each redelivery of the same bad event adds to its count and brings it back
to the unreplayed ones, never a second row, so a replay sends it once.
"""

from __future__ import annotations

import hashlib
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
    received_count: int
    last_received_at: datetime


_COLUMNS = (
    "id, event_id, event_type, topic, subscriber, reason, event, raw, received_at, "
    "replayed_at, replay_count, received_count, last_received_at"
)
# A letter that comes again takes the latest reason and is due for a replay again.
_STORE = f"""
insert into dead_letters ({_COLUMNS}, letter_key)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, null, 0, 1, $9, $10)
on conflict ((coalesce(subscriber, '')), letter_key) do update set
    received_count = dead_letters.received_count + 1,
    last_received_at = excluded.last_received_at,
    reason = excluded.reason,
    replayed_at = null
returning id
"""


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
    """Keep a letter, or count one more delivery of a letter kept before; its id."""
    event_id = None if event is None else str(event.get("id"))
    body = None if raw is None else raw.decode("utf-8", errors="replace")
    dead_letter_id: UUID = await conn.fetchval(
        _STORE,
        uuid4(),
        event_id,
        None if event is None else str(event.get("type")),
        topic,
        subscriber,
        reason,
        _json_safe(event),
        body,
        now,
        event_id or _body_key(body or ""),
    )
    return dead_letter_id


def _body_key(body: str) -> str:
    """A body that is not an event, by its content (as 007_dead_letter_once.sql keys it)."""
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def _json_safe(event: dict[str, Any] | None) -> dict[str, Any] | None:
    if event is None:
        return None
    safe: dict[str, Any] = json.loads(json.dumps(event, default=str))
    return safe


async def recent(conn: Connection, limit: int = 50) -> list[DeadLetter]:
    rows = await conn.fetch(
        f"select {_COLUMNS} from dead_letters order by last_received_at desc, id limit $1", limit
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
    """One letter per event not replayed since it last came: replaying it requeues the
    event for every subscriber, and marks the event's other letters replayed too."""
    rows = await conn.fetch(
        """
        select id from (
            select distinct on (letter_key) id, received_at from dead_letters
            where replayed_at is null
            order by letter_key, received_at, id
        ) letters
        order by received_at, id
        """
    )
    return [r["id"] for r in rows]


async def forget_user(conn: Connection, user_id: UUID) -> None:
    """A deleted account's letters: their events hold its tasks."""
    await conn.execute("delete from dead_letters where event ->> 'userid' = $1", str(user_id))
