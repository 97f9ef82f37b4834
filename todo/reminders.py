"""Reminders: scheduling, listing, snoozing, following the task's due time, and the tick's
claim of the ones that are due.

A reminder given relative to the due time (`before`) keeps that distance when the due
time moves. Claiming uses FOR UPDATE SKIP LOCKED, so ticks running at once each take
different reminders and every reminder is delivered once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from todo import dead_letters
from todo.db import Connection
from todo.errors import FieldError, InvalidInput, NotFound, TaskNotFound
from todo.events import topic_of
from todo.models import EARLIEST, INSTANT_RANGE, LATEST, earlier
from todo.outbox import Draft
from todo.paging import Params, time_ordered_page
from todo.reminder_events import (
    DueTask,
    ReminderDeleted,
    ReminderDue,
    ReminderScheduled,
    ReminderUpdated,
)
from todo.reminder_models import Reminder, ReminderCreate, ReminderPage, ReminderQuery, Snooze
from todo.task_models import ReminderSpec, Task
from todo.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

COLUMNS = "id, task_id, remind_at, before_due as before, message, delivered_at, created_at"


class ReminderNotFound(NotFound):
    pass


def check_specs(
    specs: list[ReminderSpec], due_at: datetime | None, now: datetime, field: str = "reminders"
) -> None:
    """A relative reminder needs a due time; neither kind may land in the past (a minute's
    grace for the client's clock), whether given as a moment or as a distance before due_at."""
    errors = []
    earliest = now - timedelta(minutes=1)
    for i, spec in enumerate(specs):
        if spec.before is not None and due_at is None:
            errors.append(FieldError(f"{field}.{i}.before", "needs the task to have a due_at"))
        elif spec.before is not None and due_at is not None:
            try:
                moment = earlier(due_at, spec.before)
            except ValueError as exc:
                errors.append(
                    FieldError(f"{field}.{i}.before", f"puts the reminder out of range: {exc}")
                )
            else:
                if moment < earliest:
                    errors.append(
                        FieldError(f"{field}.{i}.before", "puts the reminder in the past")
                    )
        if spec.remind_at is not None and spec.remind_at < earliest:
            errors.append(FieldError(f"{field}.{i}.remind_at", "is in the past"))
    if errors:
        raise InvalidInput(errors)


def _moment(spec: ReminderSpec, due_at: datetime | None) -> datetime:
    if spec.remind_at is not None:
        return spec.remind_at
    assert due_at is not None
    assert spec.before is not None
    return due_at - spec.before


async def _insert(
    work: UnitOfWork,
    user_id: UUID,
    task_id: UUID,
    remind_at: datetime,
    before: timedelta | None,
    message: str | None,
) -> Reminder:
    row = await work.conn.fetchrow(
        f"""
        insert into reminders (id, task_id, user_id, remind_at, before_due, message, created_at)
        values ($1, $2, $3, $4, $5, $6, $7)
        returning {COLUMNS}
        """,
        uuid4(),
        task_id,
        user_id,
        remind_at,
        before,
        message,
        work.now,
    )
    reminder = Reminder.model_validate(dict(row or {}))
    await work.emit(user_id, ReminderScheduled(reminder=reminder), str(reminder.id))
    return reminder


async def schedule(
    work: UnitOfWork, user_id: UUID, task: Task, specs: list[ReminderSpec]
) -> list[Reminder]:
    return [
        await _insert(work, user_id, task.id, _moment(s, task.due_at), s.before, s.message)
        for s in specs
    ]


async def add_reminder(work: UnitOfWork, user_id: UUID, body: ReminderCreate) -> Reminder:
    task = await work.conn.fetchrow(
        "select due_at from tasks where id = $1 and user_id = $2 for share", body.task_id, user_id
    )
    if task is None:
        raise TaskNotFound(f"no task {body.task_id}")
    due_at = task["due_at"]
    check_specs([body], due_at, work.now, field="body")
    return await _insert(
        work, user_id, body.task_id, _moment(body, due_at), body.before, body.message
    )


async def delete_reminder(work: UnitOfWork, user_id: UUID, reminder_id: UUID) -> None:
    row = await work.conn.fetchrow(
        f"delete from reminders where id = $1 and user_id = $2 returning {COLUMNS}",
        reminder_id,
        user_id,
    )
    if row is None:
        raise ReminderNotFound(f"no reminder {reminder_id}")
    reminder = Reminder.model_validate(dict(row))
    await work.emit(user_id, ReminderDeleted(reminder=reminder), str(reminder.id))


async def snooze(work: UnitOfWork, user_id: UUID, reminder_id: UUID, body: Snooze) -> Reminder:
    """Move a reminder (delivered or not) to a later moment; it no longer follows the due time.

    A move of an existing reminder, so it is announced as reminder.updated (with the
    reminder as it was), not as a newly scheduled one.
    """
    if body.until is not None:
        if body.until <= work.now:
            raise InvalidInput.single("until", "must be in the future")
        until = body.until
    else:
        assert body.minutes is not None
        until = work.now + timedelta(minutes=body.minutes)
    before = await work.conn.fetchrow(
        f"select {COLUMNS} from reminders where id = $1 and user_id = $2 for update",
        reminder_id,
        user_id,
    )
    if before is None:
        raise ReminderNotFound(f"no reminder {reminder_id}")
    row = await work.conn.fetchrow(
        f"""
        update reminders set remind_at = $2, before_due = null, delivered_at = null
        where id = $1
        returning {COLUMNS}
        """,
        reminder_id,
        until,
    )
    reminder = Reminder.model_validate(dict(row or {}))
    previous = Reminder.model_validate(dict(before))
    await work.emit(
        user_id, ReminderUpdated(reminder=reminder, previous=previous), str(reminder.id)
    )
    return reminder


_PENDING_RELATIVE = "task_id = $1 and before_due is not null and delivered_at is null"
# The moved reminders, each with its moment before the move.
_FOLLOW_DUE = f"""
with moving as (
    select id, remind_at as previous_remind_at from reminders
    where {_PENDING_RELATIVE} and remind_at <> $2::timestamptz - before_due
    for update
)
update reminders r set remind_at = $2::timestamptz - r.before_due
from moving
where r.id = moving.id
returning {", ".join("r." + c for c in COLUMNS.split(", "))}, moving.previous_remind_at
"""


async def follow_due(work: UnitOfWork, user_id: UUID, task: Task) -> None:
    """Keep pending relative reminders at their distance from a task's new due time, and
    announce each move. A reminder moved into the past is delivered at the next tick.

    Clearing the due time is refused while such reminders wait: they would have no moment
    left, and neither leaving them at the old time nor deleting them unasked is right.
    """
    if task.due_at is None:
        waiting = await work.conn.fetchval(
            f"select count(*) from reminders where {_PENDING_RELATIVE}", task.id
        )
        if waiting:
            these = "1 reminder is" if waiting == 1 else f"{waiting} reminders are"
            raise InvalidInput.single(
                "due_at", f"{these} relative to it; delete them or give them a time"
            )
        return
    try:
        rows = await work.conn.fetch(_FOLLOW_DUE, task.id, task.due_at)
    except (asyncpg.CheckViolationError, asyncpg.DatetimeFieldOverflowError):
        # sql/008_instant_bounds.sql: a reminder would move out of the API's range.
        raise InvalidInput.single(
            "due_at", f"moves a reminder that follows it out of range ({INSTANT_RANGE})"
        ) from None
    moves = []
    for row in rows:
        moved = Reminder.model_validate(dict(row))
        previous = moved.model_copy(update={"remind_at": row["previous_remind_at"]})
        moves.append(
            Draft(user_id, str(moved.id), ReminderUpdated(reminder=moved, previous=previous))
        )
    await work.emit_many(moves)


async def carry_over(work: UnitOfWork, user_id: UUID, previous: Task, following: Task) -> None:
    """Give a task's next instance the reminders of the one completed, moved along with it."""
    assert following.due_at is not None
    rows = await work.conn.fetch(
        f"select {COLUMNS} from reminders where task_id = $1 order by remind_at, id", previous.id
    )
    shift = following.due_at - (previous.due_at or following.due_at)
    for row in rows:
        old = Reminder.model_validate(dict(row))
        moment = following.due_at - old.before if old.before is not None else old.remind_at + shift
        await _insert(work, user_id, following.id, moment, old.before, old.message)


async def list_reminders(conn: Connection, user_id: UUID, query: ReminderQuery) -> ReminderPage:
    params = Params(user_id)
    where = ["user_id = $1"]
    if query.task_id is not None:
        where.append(f"task_id = {params.add(query.task_id)}")
    if query.pending is not None:
        where.append("delivered_at is null" if query.pending else "delivered_at is not null")
    rows, next_cursor = await time_ordered_page(
        conn,
        select=f"select {COLUMNS} from reminders",
        where=where,
        params=params,
        time_column="remind_at",
        descending=False,
        limit=query.limit,
        cursor=query.cursor,
    )
    items = [Reminder.model_validate(dict(r)) for r in rows]
    return ReminderPage(items=items, next_cursor=next_cursor)


@dataclass(frozen=True)
class Claimed:
    delivered: int
    skipped: int


# Only reminders and tasks inside the API's range ($3, $4) are claimed and decoded: an
# instant written before the range was enforced would fail to decode (OverflowError) and
# take the whole batch, every user's reminders, down with it. set_aside() handles those.
_CLAIM_DUE = f"""
with due as (
    select id from reminders
    where delivered_at is null and remind_at <= $1 and remind_at >= $3
    order by remind_at
    limit $2
    for update skip locked
)
update reminders r set delivered_at = $1
from due, tasks t
where r.id = due.id and t.id = r.task_id
returning {", ".join("r." + c for c in COLUMNS.split(", "))}, r.user_id,
          t.title as task_title, t.status::text as task_status,
          case when t.due_at >= $3 and t.due_at < $4 then t.due_at end as task_due_at
"""


async def claim_due(work: UnitOfWork, limit: int) -> Claimed:
    """Mark up to `limit` due reminders delivered and announce each with reminder.due.

    Reminders of completed tasks are marked too, without an event: nobody needs them. A
    reminder that cannot be announced is dead-lettered with the reason, never retried
    forever and never in the way of the others.
    """
    rows = await work.conn.fetch(_CLAIM_DUE, work.now, limit, EARLIEST, LATEST)
    drafts = []
    for row in rows:
        if row["task_status"] == "completed":
            continue
        try:
            drafts.append(_due_event(row))
        except Exception as exc:
            await _set_aside(work, dict(row), f"cannot announce the reminder: {exc!r}")
    await work.emit_many(drafts)
    return Claimed(delivered=len(drafts), skipped=len(rows) - len(drafts))


def _due_event(row: asyncpg.Record) -> Draft:
    reminder = Reminder.model_validate(dict(row))
    task = DueTask(id=row["task_id"], title=row["task_title"], due_at=row["task_due_at"])
    return Draft(row["user_id"], str(reminder.id), ReminderDue(reminder=reminder, task=task))


async def earliest_pending(conn: Connection) -> datetime | None:
    """When the next pending reminder (in the API's range) comes due, if any."""
    moment: datetime | None = await conn.fetchval(
        "select min(remind_at) from reminders where delivered_at is null and remind_at >= $1",
        EARLIEST,
    )
    return moment


# Deleted, not marked delivered: any change to such a row fails the range check
# (sql/008_instant_bounds.sql). The dead letter keeps the whole row.
_OUT_OF_RANGE = """
delete from reminders
where delivered_at is null and remind_at < $1
returning id, task_id, user_id, remind_at::text as remind_at, before_due::text as before,
          message, created_at
"""


async def set_aside(work: UnitOfWork) -> int:
    """Take the pending reminders whose time lies before the API's range out of the queue,
    each into a dead letter saying why: they can never be delivered as they are."""
    rows = await work.conn.fetch(_OUT_OF_RANGE, EARLIEST)
    for row in rows:
        await _set_aside(
            work, dict(row), f"remind_at {row['remind_at']} is outside the range {INSTANT_RANGE}"
        )
    return len(rows)


async def _set_aside(work: UnitOfWork, row: dict[str, Any], reason: str) -> None:
    log.warning("reminder set aside", extra={"reminder_id": str(row["id"]), "reason": reason})
    await dead_letters.store(
        work.conn,
        topic=topic_of(ReminderDue.event_type),
        reason=reason,
        now=work.now,
        raw=json.dumps(row, default=str).encode(),
        subscriber="tick",
    )
