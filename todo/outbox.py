"""The outbox table: append events with the owner's next sequence, read the change feed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple
from uuid import UUID, uuid4

import asyncpg

from todo.db import Connection, Database, dump_json
from todo.event_types import Payload
from todo.events import Event, topic_of

# One round trip for any number of events: each owner's counter moves by their number of
# events (the counter row stays locked until commit, which keeps each user's sequence
# gapless), and the events take the numbers in the order given. Counters are locked in
# user order, so two transactions appending for the same users cannot deadlock.
# The columns cross the wire as text[], the one array type asyncpg has a built-in codec
# for: uuid[] or jsonb[] would be looked up on every new connection (three round trips).
# `{gate}` lets a statement that makes a change append the events announcing it only if the
# change happened: it follows `where` (see `appending_after`).
_APPEND = """
input as (
    select e.id::uuid, e.user_id::uuid, e.type, e.subject, e.topic, e.data::jsonb, e.ord
    from unnest(${n}::text[], ${n1}::text[], ${n2}::text[], ${n3}::text[], ${n4}::text[],
                ${n5}::text[])
        with ordinality as e(id, user_id, type, subject, topic, data, ord)
    where {gate}
),
counts as (
    select user_id, count(*) as n from input group by user_id order by user_id
),
bumped as (
    insert into event_sequences as s (user_id, last_seq)
    select user_id, n from counts
    on conflict (user_id) do update set last_seq = s.last_seq + excluded.last_seq
    returning user_id, last_seq
)
insert into events (id, user_id, seq, type, source, subject, topic, data, occurred_at)
select i.id, i.user_id,
       b.last_seq - c.n + row_number() over (partition by i.user_id order by i.ord),
       i.type, ${n6}, i.subject, i.topic, i.data, ${n7}
from input i join counts c using (user_id) join bumped b using (user_id)
returning id, seq
"""
APPEND_ARGUMENTS = 8


def appending_after(gate: str, first: int) -> str:
    """The outbox append as the last part of a statement that starts `with ...,`: the
    events are appended if `gate` holds, and their parameters are numbered from `first`
    (`Appending.arguments` gives them)."""
    numbers = {f"n{i}" if i else "n": first + i for i in range(APPEND_ARGUMENTS)}
    return _APPEND.format(gate=gate, **numbers)


APPEND_EVENTS = "with " + appending_after("true", 1)


class Draft(NamedTuple):
    """An event to append: everything but its id and sequence number."""

    user_id: UUID
    subject: str
    payload: Payload


async def append_events(
    conn: Connection, drafts: Sequence[Draft], *, source: str, now: datetime
) -> list[Event]:
    if not drafts:
        return []
    appending = Appending(drafts, source, now)
    return appending.events(await conn.fetch(APPEND_EVENTS, *appending.arguments()))


class Appending:
    """Drafts about to be appended: their ids, the append's parameters, and the events they
    became once the statement has numbered them."""

    def __init__(self, drafts: Sequence[Draft], source: str, now: datetime) -> None:
        self.drafts = drafts
        self.source = source
        self.now = now
        self.ids = [uuid4() for _ in drafts]
        self.types = [d.payload.event_type for d in drafts]
        self.datas = [d.payload.data() for d in drafts]

    def arguments(self) -> list[object]:
        """The APPEND_ARGUMENTS parameters, in order."""
        return [
            text_ids(self.ids),
            text_ids(d.user_id for d in self.drafts),
            self.types,
            [d.subject for d in self.drafts],
            [topic_of(t) for t in self.types],
            [dump_json(data) for data in self.datas],
            self.source,
            self.now,
        ]

    def events(self, rows: Sequence[asyncpg.Record]) -> list[Event]:
        """The events the statement numbered (`rows`: its `id, seq`); none if it appended
        nothing."""
        seqs = {r["id"]: r["seq"] for r in rows}
        if not seqs:
            return []
        made = zip(self.ids, self.drafts, self.types, self.datas, strict=True)
        source, now = self.source, self.now
        return [
            Event(id, d.user_id, seqs[id], type, source, d.subject, topic_of(type), data, now)
            for id, d, type, data in made
        ]


MARK_PUBLISHED = """
update events set published_at = $2
where id = any($1::text[]::uuid[]) and published_at is null
"""


# Per user, the lowest unpublished sequence older than a moment: the events the relay owns.
# It reads the partial index of unpublished events by age: normally a handful of rows.
RELAYS_OLDEST = """
select user_id, min(seq) as seq
from events
where published_at is null and occurred_at <= $1
group by user_id
"""

STILL_UNPUBLISHED = """
select e.user_id
from unnest($1::text[], $2::text[]) as w(user_id, seq)
join events e on e.user_id = w.user_id::uuid and e.seq = w.seq::bigint
where e.published_at is null
"""


async def relays_oldest(database: Database, older_than: datetime) -> dict[UUID, int]:
    """Per user, the lowest sequence of the unpublished events older than `older_than`."""
    pool = await database.pool()
    return {r["user_id"]: r["seq"] for r in await pool.fetch(RELAYS_OLDEST, older_than)}


async def still_unpublished(database: Database, events: Mapping[UUID, int]) -> set[UUID]:
    """Of these (user, sequence) events, the users whose event is still unpublished."""
    pool = await database.pool()
    users = list(events)
    # Sequences as text too: bigint[] would be looked up per connection, as uuid[] would.
    seqs = [str(events[u]) for u in users]
    rows = await pool.fetch(STILL_UNPUBLISHED, text_ids(users), seqs)
    return {r["user_id"] for r in rows}


def text_ids(ids: Iterable[UUID]) -> list[str]:
    """Ids as a text[] parameter (see APPEND_EVENTS for why not uuid[])."""
    return [str(event_id) for event_id in ids]


async def mark_published(database: Database, ids: Sequence[UUID], now: datetime) -> None:
    await database.execute_idempotent(MARK_PUBLISHED, text_ids(ids), now)


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


async def forget_user(conn: Connection, user_id: UUID) -> None:
    """A deleted account's change feed and its sequence counter."""
    await conn.execute("delete from events where user_id = $1", user_id)
    await conn.execute("delete from event_sequences where user_id = $1", user_id)
