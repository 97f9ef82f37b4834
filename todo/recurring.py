"""Repeating tasks: when one is completed, its next instance appears.

The next instance's id is derived from the completed task's id, so however often and in
whatever order the completion event arrives, at most one next instance exists. Its due
time is computed in a worker thread: bounded, but up to a few hundred milliseconds of
CPU for the worst rules, which would otherwise stall every other delivery and /health.
"""

from __future__ import annotations

import asyncio
import uuid
from zoneinfo import ZoneInfo

from todo import reminders, tasks
from todo.consumers import Consumer, PoisonEvent, event_data
from todo.event_types import TaskCompleted
from todo.incoming import IncomingEvent
from todo.recurrence import Unschedulable, next_instance
from todo.task_models import Recurrence, TaskCreate
from todo.unit_of_work import UnitOfWork

# Namespace for next-instance ids: uuid5(SERIES, "<completed task id>/next").
SERIES = uuid.UUID("6f1c7f0e-2b1d-4d5e-9a57-0c6e3b1f8d21")


def next_instance_id(task_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(SERIES, f"{task_id}/next")


async def create_next_instance(work: UnitOfWork, event: IncomingEvent) -> None:
    if event.user_id is None:
        raise PoisonEvent("the event has no userid")
    task = event_data(TaskCompleted, event).task
    if task.recurrence is None:
        return
    zone_name = task.recurrence.timezone or await work.conn.fetchval(
        "select timezone from users where id = $1", event.user_id
    )
    if zone_name is None:
        return  # the account is gone
    try:
        following = await asyncio.to_thread(
            next_instance,
            task.recurrence.rrule,
            ZoneInfo(zone_name),
            task.due_at,
            task.completed_at or work.now,
            task.recurrence.mode,
        )
    except Unschedulable as exc:
        raise PoisonEvent(str(exc)) from None
    if following is None:
        return  # the rule has ended
    # Built without validation: these are the stored task's fields, and a series stored
    # before today's limits on new rules (COUNT at most 1000) must still go on.
    spec = TaskCreate.model_construct(
        title=task.title,
        description=task.description,
        priority=task.priority,
        due_at=following.due_at,
        tags=task.tags,
        metadata=task.metadata,
        recurrence=Recurrence(
            rrule=following.rule, timezone=task.recurrence.timezone, mode=task.recurrence.mode
        ),
    )
    created = await tasks.insert_task(work, event.user_id, spec, next_instance_id(task.id))
    if created is not None:
        await reminders.carry_over(work, event.user_id, task, created)


RECURRENCE = Consumer("recurrence", frozenset({TaskCompleted.event_type}), create_next_instance)
