"""The audit log: one row per task event, with who, what, when, and the task before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from todo.consumers import Consumer, OneStatement, PoisonEvent, claimed_then, event_data
from todo.db import Connection, dump_json
from todo.event_types import TaskChange, TaskCompleted, TaskCreated, TaskDeleted, TaskUpdated
from todo.incoming import IncomingEvent

# The claims and the rows in one statement, for every event of a delivery: process-event's
# BEGIN, claim and COMMIT were three of its four round trips per task event. $1-$3 are the
# claims' (consumer, event ids, now); the columns come as text[] (see `row`).
INSERT_AUDIT = claimed_then("""
    insert into audit_log (event_id, user_id, type, subject, source, occurred_at,
                           before, after, recorded_at)
    select r.event_id, r.user_id::uuid, r.type, r.subject, r.source,
           coalesce(r.occurred_at::timestamptz, $3), r.before::jsonb, r.after::jsonb, $3
    from unnest($2::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                $9::text[], $10::text[])
        as r(event_id, user_id, type, subject, source, occurred_at, before, after)
    join claimed using (event_id)
    on conflict (event_id) do nothing
""")


TASK_EVENTS = {p.event_type: p for p in (TaskCreated, TaskUpdated, TaskCompleted, TaskDeleted)}


def row(event: IncomingEvent) -> tuple[str | None, ...]:
    """The event's audit row, as INSERT_AUDIT's text columns after the event id."""
    user_id = event.user_id
    if user_id is None:
        raise PoisonEvent("the event has no userid")
    payload = event_data(TASK_EVENTS[event.type], event)
    # The task as its producer wrote it, once it validates: fields this version does not
    # know are kept, and the task is not serialized a second time.
    task: dict[str, Any] = event.data["task"]
    after: dict[str, Any] | None = task
    before: dict[str, Any] | None = None
    if isinstance(payload, TaskDeleted):
        before, after = task, None
    elif isinstance(payload, TaskChange) and payload.previous:
        before = {**task, **payload.previous}
    subject = event.subject or str(payload.task.id)
    return (
        str(user_id),
        event.type,
        subject,
        event.source,
        _time(event),
        None if before is None else dump_json(before),
        None if after is None else dump_json(after),
    )


def _time(event: IncomingEvent) -> str | None:
    """The event's time, if it has one that reads as an instant."""
    value = event.attributes.get("time")
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value)).isoformat()
    except ValueError:
        return None


AUDIT = Consumer("audit", frozenset(TASK_EVENTS), claim_in=OneStatement(INSERT_AUDIT, row))


async def forget_user(conn: Connection, user_id: UUID) -> None:
    await conn.execute("delete from audit_log where user_id = $1", user_id)
