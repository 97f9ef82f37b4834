"""Reminders on tasks: scheduling them, in the transaction of the change that asks."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from todo import events
from todo.errors import FieldError, InvalidInput
from todo.task_models import ReminderSpec, Task
from todo.unit_of_work import UnitOfWork


def check_specs(
    specs: list[ReminderSpec], due_at: datetime | None, field: str = "reminders"
) -> None:
    """A reminder relative to the due time needs one."""
    errors = [
        FieldError(f"{field}.{i}.before", "needs the task to have a due_at")
        for i, spec in enumerate(specs)
        if spec.before is not None and due_at is None
    ]
    if errors:
        raise InvalidInput(errors)


async def schedule(work: UnitOfWork, user_id: UUID, task: Task, specs: list[ReminderSpec]) -> None:
    for spec in specs:
        if spec.remind_at is not None:
            remind_at = spec.remind_at
        else:
            assert task.due_at is not None
            assert spec.before is not None
            remind_at = task.due_at - spec.before
        reminder_id = uuid4()
        await work.conn.execute(
            """
            insert into reminders (id, task_id, user_id, remind_at, before_due, message, created_at)
            values ($1, $2, $3, $4, $5, $6, $7)
            """,
            reminder_id,
            task.id,
            user_id,
            remind_at,
            spec.before,
            spec.message,
            work.now,
        )
        await work.emit(
            user_id,
            events.REMINDER_SCHEDULED,
            str(reminder_id),
            {
                "reminder": {
                    "id": str(reminder_id),
                    "task_id": str(task.id),
                    "remind_at": remind_at.isoformat(),
                    "message": spec.message,
                }
            },
        )
