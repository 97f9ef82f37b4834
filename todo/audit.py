"""The audit log: one row per task event, with who, what, when, and the task before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from todo import events
from todo.consumers import Consumer, PoisonEvent, event_data
from todo.incoming import IncomingEvent
from todo.models import Output
from todo.unit_of_work import UnitOfWork

INSERT_AUDIT = """
insert into audit_log (event_id, user_id, type, subject, source, occurred_at,
                       before, after, recorded_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
on conflict (event_id) do nothing
"""


class TaskEventData(Output):
    task: dict[str, Any]
    previous: dict[str, Any] | None = None


async def record(work: UnitOfWork, event: IncomingEvent) -> None:
    user_id = event.user_id
    if user_id is None:
        raise PoisonEvent("the event has no userid")
    data = event_data(TaskEventData, event)
    after: dict[str, Any] | None = data.task
    before: dict[str, Any] | None = None
    if event.type == events.TASK_DELETED:
        before, after = data.task, None
    elif data.previous is not None:
        before = {**data.task, **data.previous}
    await work.conn.execute(
        INSERT_AUDIT,
        event.id,
        user_id,
        event.type,
        event.subject or str(data.task.get("id", "")),
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


AUDIT = Consumer(
    "audit",
    frozenset(
        {events.TASK_CREATED, events.TASK_UPDATED, events.TASK_COMPLETED, events.TASK_DELETED}
    ),
    record,
)
