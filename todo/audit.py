"""The audit log: one row per task event, with who, what, when, and the task before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from todo.consumers import Consumer, PoisonEvent, event_data
from todo.db import Connection
from todo.event_types import TaskChange, TaskCompleted, TaskCreated, TaskDeleted, TaskUpdated
from todo.incoming import IncomingEvent
from todo.unit_of_work import UnitOfWork

INSERT_AUDIT = """
insert into audit_log (event_id, user_id, type, subject, source, occurred_at,
                       before, after, recorded_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
on conflict (event_id) do nothing
"""


TASK_EVENTS = {p.event_type: p for p in (TaskCreated, TaskUpdated, TaskCompleted, TaskDeleted)}


async def record(work: UnitOfWork, event: IncomingEvent) -> None:
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
    await work.conn.execute(
        INSERT_AUDIT,
        event.id,
        user_id,
        event.type,
        event.subject or str(payload.task.id),
        event.source,
        _time(event) or work.now,
        before,
        after,
        work.now,
    )


def _time(event: IncomingEvent) -> datetime | None:
    value = event.attributes.get("time")
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


AUDIT = Consumer("audit", frozenset(TASK_EVENTS), record)


async def forget_user(conn: Connection, user_id: UUID) -> None:
    await conn.execute("delete from audit_log where user_id = $1", user_id)
