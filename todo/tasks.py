"""Task operations: create, read, change, complete, reopen, delete.

Each change runs inside a unit of work: the row change and the event that announces it
commit together, and the event carries the task as it now is.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from uuid import UUID, uuid4

import asyncpg
from pydantic import BaseModel

from todo import idempotency
from todo.db import Connection
from todo.errors import StaleVersion, TaskNotFound
from todo.event_types import RecurrenceCreated, TaskCompleted, TaskCreated, TaskDeleted, TaskUpdated
from todo.task_models import Recurrence, Task, TaskCreate, TaskPatch
from todo.unit_of_work import UnitOfWork

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
    work: UnitOfWork,
    user_id: UUID,
    spec: TaskCreate,
    *,
    idempotency_key: str | None = None,
    request: BaseModel | None = None,
) -> Created:
    """Create the task `spec` describes. `request` is what the client sent, when that is
    not `spec` itself (a quick-add text reads differently tomorrow): a retry must match it."""
    if idempotency_key is not None:
        fingerprint = idempotency.request_hash(request or spec)
        stored = await idempotency.claim(work.conn, user_id, idempotency_key, fingerprint, work.now)
        if stored is not None:
            return Created(Task.model_validate(stored), replayed=True)
    if spec.reminders:
        # Imported where needed: most creates have no reminders, and a cold start's first
        # request should not wait for the reminder module.
        from todo import reminders

        reminders.check_specs(spec.reminders, spec.due_at, work.now)
    task = await insert_task(work, user_id, spec)
    assert task is not None
    if idempotency_key is not None:
        await idempotency.record(work.conn, user_id, idempotency_key, 201, task_json(task))
    return Created(task, replayed=False)


async def insert_task(
    work: UnitOfWork, user_id: UUID, spec: TaskCreate, task_id: UUID | None = None
) -> Task | None:
    """Insert a task with its reminders and announce it. With a given id, an existing task
    of that id wins and nothing happens (None): how a repeat's next instance stays unique."""
    row = await work.conn.fetchrow(
        INSERT_TASK,
        task_id or uuid4(),
        user_id,
        spec.title,
        spec.description,
        spec.status,
        spec.priority,
        spec.due_at,
        work.now if spec.status == "completed" else None,
        spec.tags,
        spec.metadata,
        spec.recurrence.model_dump() if spec.recurrence else None,
        work.now,
    )
    if row is None:
        return None
    task = task_from_row(row)
    await work.emit(user_id, TaskCreated(task=task), str(task.id))
    if task.recurrence is not None:
        await work.emit(
            user_id, RecurrenceCreated(task_id=task.id, recurrence=task.recurrence), str(task.id)
        )
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
