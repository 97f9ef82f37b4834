"""Task operations: create, read, change, complete, reopen, delete.

Each change commits together with the event that announces it, which carries the task as
it now is: in a unit of work (a transaction), or for most creates in one statement.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID, uuid4

import asyncpg
from pydantic import BaseModel

from todo import idempotency, outbox
from todo.db import Connection
from todo.errors import StaleVersion, TaskNotFound
from todo.event_types import RecurrenceCreated, TaskCompleted, TaskCreated, TaskDeleted, TaskUpdated
from todo.runtime import runtime
from todo.task_models import Recurrence, Task, TaskCreate, TaskPatch
from todo.unit_of_work import UnitOfWork, in_one_statement, unit_of_work

# Status and priority are Postgres enums that cross the wire as text: asyncpg has no
# built-in codec for an enum and would look each one up on every new connection (three
# round trips, paid by a cold start's first request and by every connection the pool adds).
COLUMNS = (
    "id, title, description, status::text as status, priority::text as priority, due_at, "
    "completed_at, tags, metadata, recurrence, version, created_at, updated_at"
)
INSERT_TASK = f"""
insert into tasks (id, user_id, title, description, status, priority, due_at,
                   completed_at, tags, metadata, recurrence, created_at, updated_at)
values ($1, $2, $3, $4, $5::text::task_status, $6::text::task_priority, $7, $8, $9, $10, $11,
        $12, $12)
on conflict (id) do nothing
returning {COLUMNS}
"""
# A create without reminders, in one statement: the idempotency key's claim (when a key is
# given) with the response, the task if the key was free, and its events if the task went
# in. $1-$11: the task's columns as INSERT_TASK takes them, $12: now, $13-$15: the key,
# the request's hash and the response; the events' parameters follow.
CREATE_TASK = f"""
with {idempotency.CLAIM_WITH_RESPONSE.format(user=2, key=13, fingerprint=14, response=15, now=12)},
task as (
    insert into tasks (id, user_id, title, description, status, priority, due_at,
                       completed_at, tags, metadata, recurrence, created_at, updated_at)
    select $1::uuid, $2::uuid, $3::text, $4::text, $5::text::task_status,
           $6::text::task_priority, $7::timestamptz, $8::timestamptz, $9::text[], $10::jsonb,
           $11::jsonb, $12::timestamptz, $12::timestamptz
    where $13::text is null or exists (select 1 from claim)
    on conflict (id) do nothing
    returning id
),
{outbox.appending_after("exists (select 1 from task)", 16)}
"""
# Columns a patch may set, each bound as a parameter of this SQL type.
_PATCHABLE = {
    "title": "text",
    "description": "text",
    "status": "text::task_status",
    "priority": "text::task_priority",
    "due_at": "timestamptz",
    "tags": "text[]",
    "metadata": "jsonb",
    "recurrence": "jsonb",
    "completed_at": "timestamptz",
}


def task_from_row(row: asyncpg.Record) -> Task:
    """The task a row holds, built without validation.

    The table's types and constraints already hold what validation would check, and
    every value in it came through TaskCreate or TaskPatch. Validating on the way out
    re-parsed each recurrence rule with dateutil: 3.5 ms for 50 tasks (most of a list
    request's time, measured with py-spy under bench/list_tasks); model_construct takes
    0.3 ms and the Task dumps to the same JSON.
    """
    values = dict(row)
    if values["recurrence"] is not None:
        values["recurrence"] = Recurrence.model_construct(**values["recurrence"])
    return Task.model_construct(**values)


_TASK_FIELDS = tuple(Task.model_fields)
# A stored recurrence's fields in the model's order, with their defaults: jsonb keeps its
# keys in an order of its own, and the JSON must list them as Recurrence does.
_RECURRENCE = {
    name: None if field.is_required() else field.get_default()
    for name, field in Recurrence.model_fields.items()
}


def task_document(row: asyncpg.Record) -> dict[str, Any]:
    """A task row as the API's JSON document, for `pydantic_core.to_json`: the same bytes
    as Task.model_dump_json, without building a Task.

    For pages: building 50 Tasks (0.3-0.5 ms) and dumping them (0.12 ms) took a quarter
    of a list request's time in the worker; these documents encode in 0.25 ms together.
    """
    document = {name: row[name] for name in _TASK_FIELDS}
    if document["recurrence"] is not None:
        document["recurrence"] = {**_RECURRENCE, **document["recurrence"]}
    return document


def task_json(task: Task) -> dict[str, Any]:
    data: dict[str, Any] = task.model_dump(mode="json")
    return data


class Created(NamedTuple):
    task: Task
    replayed: bool


async def create_task(
    user_id: UUID,
    spec: TaskCreate,
    *,
    idempotency_key: str | None = None,
    request: BaseModel | None = None,
) -> Created:
    """Create the task `spec` describes. `request` is what the client sent, when that is
    not `spec` itself (a quick-add text reads differently tomorrow): a retry must match it.

    Without reminders (most creates) it is one statement; with them, a transaction.
    """
    fingerprint = None
    if idempotency_key is not None:
        fingerprint = idempotency.request_hash(request or spec)
    if spec.reminders:
        async with unit_of_work() as work:
            return await _create_with_reminders(work, user_id, spec, idempotency_key, fingerprint)
    now = runtime().clock.now()
    task = new_task(uuid4(), spec, now)
    events = await in_one_statement(
        user_id,
        announcing(user_id, task),
        now,
        CREATE_TASK,
        *task_columns(task.id, user_id, spec, now),
        idempotency_key,
        fingerprint,
        task_json(task) if idempotency_key is not None else None,
    )
    if events or idempotency_key is None or fingerprint is None:
        # No events without a key: an earlier run of the statement, on a connection that
        # died before it answered, created the task (see `in_one_statement`).
        return Created(task, replayed=False)
    key = idempotency_key
    stored = await runtime().database.read(
        lambda conn: idempotency.stored(conn, user_id, key, fingerprint)
    )
    return Created(Task.model_validate(stored), replayed=True)


async def _create_with_reminders(
    work: UnitOfWork,
    user_id: UUID,
    spec: TaskCreate,
    idempotency_key: str | None,
    fingerprint: str | None,
) -> Created:
    if idempotency_key is not None and fingerprint is not None:
        stored = await idempotency.claim(work.conn, user_id, idempotency_key, fingerprint, work.now)
        if stored is not None:
            return Created(Task.model_validate(stored), replayed=True)
    # Imported where needed: most creates have no reminders, and a cold start's first
    # request should not wait for the reminder module.
    from todo import reminders

    reminders.check_specs(spec.reminders, spec.due_at, work.now)
    task = await insert_task(work, user_id, spec)
    assert task is not None
    if idempotency_key is not None:
        await idempotency.record(work.conn, user_id, idempotency_key, 201, task_json(task))
    return Created(task, replayed=False)


def new_task(task_id: UUID, spec: TaskCreate, now: datetime) -> Task:
    """The task `spec` makes, as its row will read: what `task_from_row` gives back."""
    recurrence = spec.recurrence.model_dump() if spec.recurrence else None
    now = now.astimezone(UTC)  # as timestamptz reads back
    return Task.model_construct(
        id=task_id,
        title=spec.title,
        description=spec.description,
        status=spec.status,
        priority=spec.priority,
        due_at=spec.due_at.astimezone(UTC) if spec.due_at else None,
        completed_at=now if spec.status == "completed" else None,
        tags=spec.tags,
        metadata=spec.metadata,
        recurrence=Recurrence.model_construct(**recurrence) if recurrence else None,
        version=1,
        created_at=now,
        updated_at=now,
    )


def task_columns(task_id: UUID, user_id: UUID, spec: TaskCreate, now: datetime) -> list[Any]:
    """A new task's columns in INSERT_TASK's and CREATE_TASK's order, up to now ($12)."""
    return [
        task_id,
        user_id,
        spec.title,
        spec.description,
        spec.status,
        spec.priority,
        spec.due_at,
        now if spec.status == "completed" else None,
        spec.tags,
        spec.metadata,
        spec.recurrence.model_dump() if spec.recurrence else None,
        now,
    ]


def announcing(user_id: UUID, task: Task) -> list[outbox.Draft]:
    """The events that announce a new task."""
    drafts = [outbox.Draft(user_id, str(task.id), TaskCreated(task=task))]
    if task.recurrence is not None:
        recurrence = RecurrenceCreated(task_id=task.id, recurrence=task.recurrence)
        drafts.append(outbox.Draft(user_id, str(task.id), recurrence))
    return drafts


async def insert_task(
    work: UnitOfWork, user_id: UUID, spec: TaskCreate, task_id: UUID | None = None
) -> Task | None:
    """Insert a task with its reminders and announce it. With a given id, an existing task
    of that id wins and nothing happens (None): how a repeat's next instance stays unique."""
    row = await work.conn.fetchrow(
        INSERT_TASK, *task_columns(task_id or uuid4(), user_id, spec, work.now)
    )
    if row is None:
        return None
    task = task_from_row(row)
    await work.emit_many(announcing(user_id, task))
    if spec.reminders:
        from todo import reminders

        await reminders.schedule(work, user_id, task, spec.reminders)
    return task


async def get_task(conn: Connection, user_id: UUID, task_id: UUID) -> Task:
    row = await conn.fetchrow(
        f"select {COLUMNS} from tasks where id = $1 and user_id = $2", task_id, user_id
    )
    if row is None:
        raise TaskNotFound(f"no task {task_id}")
    return task_from_row(row)


async def _lock_task(
    work: UnitOfWork, user_id: UUID, task_id: UUID, expected: frozenset[int] | None
) -> Task:
    """The task, locked for this change, after checking the caller's If-Match versions."""
    row = await work.conn.fetchrow(
        f"select {COLUMNS} from tasks where id = $1 and user_id = $2 for update",
        task_id,
        user_id,
    )
    if row is None:
        raise TaskNotFound(f"no task {task_id}")
    task = task_from_row(row)
    if expected is not None and task.version not in expected:
        raise StaleVersion(
            f"the task is at version {task.version}; reload it and apply the change again",
            current_version=task.version,
        )
    return task


def _effective_changes(task: Task, requested: dict[str, Any]) -> dict[str, Any]:
    """The requested fields whose value differs, plus the completion time they imply."""
    current = task.model_dump()
    changes: dict[str, Any] = {}
    for name, value in requested.items():
        new = value.model_dump() if hasattr(value, "model_dump") else value
        if new != current[name]:
            changes[name] = new
    return changes


async def update_task(
    work: UnitOfWork,
    user_id: UUID,
    task_id: UUID,
    patch: TaskPatch,
    expected: frozenset[int] | None = None,
) -> Task:
    task = await _lock_task(work, user_id, task_id, expected)
    return await _apply(work, user_id, task, patch.changes())


async def complete_task(
    work: UnitOfWork, user_id: UUID, task_id: UUID, expected: frozenset[int] | None = None
) -> Task:
    task = await _lock_task(work, user_id, task_id, expected)
    return await _apply(work, user_id, task, {"status": "completed"})


async def reopen_task(
    work: UnitOfWork, user_id: UUID, task_id: UUID, expected: frozenset[int] | None = None
) -> Task:
    task = await _lock_task(work, user_id, task_id, expected)
    if task.status != "completed":
        return task
    return await _apply(work, user_id, task, {"status": "pending"})


async def _apply(work: UnitOfWork, user_id: UUID, task: Task, requested: dict[str, Any]) -> Task:
    """Write the changes that differ, bump the version, and announce them.

    A change to nothing writes nothing: no new version and no event, so repeating a
    request (completing a completed task) is harmless.
    """
    changes = _effective_changes(task, requested)
    if not changes:
        return task
    completing = changes.get("status") == "completed"
    if "status" in changes and (completing or task.completed_at is not None):
        changes["completed_at"] = work.now if completing else None
    assignments = [f"{name} = ${i}::{_PATCHABLE[name]}" for i, name in enumerate(changes, start=3)]
    row = await work.conn.fetchrow(
        f"""
        update tasks set {", ".join(assignments)}, version = version + 1, updated_at = $2
        where id = $1
        returning {COLUMNS}
        """,
        task.id,
        work.now,
        *changes.values(),
    )
    assert row is not None
    updated = task_from_row(row)
    previous = task.model_dump(mode="json")
    announce = TaskCompleted if completing else TaskUpdated
    await work.emit(
        user_id,
        announce(
            task=updated,
            changed=sorted(changes),
            previous={name: previous[name] for name in sorted(changes)},
        ),
        str(task.id),
    )
    if "due_at" in changes:
        from todo import reminders

        await reminders.follow_due(work, user_id, updated)
    return updated


async def delete_task(
    work: UnitOfWork, user_id: UUID, task_id: UUID, expected: frozenset[int] | None = None
) -> Task:
    task = await _lock_task(work, user_id, task_id, expected)
    await work.conn.execute("delete from tasks where id = $1", task.id)
    await work.emit(user_id, TaskDeleted(task=task), str(task.id))
    return task
