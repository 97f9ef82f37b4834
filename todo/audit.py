"""The audit log: one row per task event, with who, what, when, and the task before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from todo.consumers import Consumer, PoisonEvent, claimed_then, event_data
from todo.db import Connection
from todo.event_types import TaskChange, TaskCompleted, TaskCreated, TaskDeleted, TaskUpdated
from todo.incoming import IncomingEvent

# The claim and the row in one statement: process-event's BEGIN, claim and COMMIT were
# three of its four round trips per task event. $1-$3 are the claim's (consumer, event
# id, now).
INSERT_AUDIT = claimed_then("""
    insert into audit_log (event_id, user_id, type, subject, source, occurred_at,
                           before, after, recorded_at)
    select $2, $4::uuid, $5::text, $6::text, $7::text, coalesce($8::timestamptz, $3),
           $9::jsonb, $10::jsonb, $3
    where exists (select from claimed)
    on conflict (event_id) do nothing
""")


TASK_EVENTS = {p.event_type: p for p in (TaskCreated, TaskUpdated, TaskCompleted, TaskDeleted)}


def record(event: IncomingEvent) -> tuple[str, tuple[object, ...]]:
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
    return INSERT_AUDIT, (user_id, event.type, subject, event.source, _time(event), before, after)


def _time(event: IncomingEvent) -> datetime | None:
    value = event.attributes.get("time")
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


AUDIT = Consumer("audit", frozenset(TASK_EVENTS), claim_in=record)


async def forget_user(conn: Connection, user_id: UUID) -> None:
    await conn.execute("delete from audit_log where user_id = $1", user_id)
