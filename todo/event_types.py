"""The event catalogue: one typed payload per event type, the `data` of its CloudEvent.

Producers build these and consumers parse them, from the same class, so the contract
between them is checked on both sides instead of being a dict built in one module and
read by key in another. Each class knows its type (`todo.<entity>.<verb>`), and so its
topic. The JSON is the model's `mode="json"` dump; clients and the change feed read it,
so a field is added, never renamed or removed.

Building a payload from models already validated (a `Task` read from its row) does not
validate them again: pydantic keeps a model instance given for a model field as it is.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from pydantic import Field

from todo.models import Output
from todo.task_models import Recurrence, Task


class Payload(Output):
    """The data of one event type."""

    event_type: ClassVar[str]

    def data(self) -> dict[str, Any]:
        """The CloudEvent's `data`, as the outbox stores it and the wire carries it."""
        data: dict[str, Any] = self.model_dump(mode="json")
        return data


class TaskEvent(Payload):
    """A task event: the task as it now is (or, once deleted, as it was)."""

    task: Task


class TaskCreated(TaskEvent):
    event_type = "todo.task.created"


class TaskChange(TaskEvent):
    """A change to a task: which fields changed, and their values before it. Producers
    always set both; a consumer that needs only the task takes an event without them."""

    changed: list[str] = Field(default_factory=list)
    previous: dict[str, Any] = Field(default_factory=dict)


class TaskUpdated(TaskChange):
    event_type = "todo.task.updated"


class TaskCompleted(TaskChange):
    event_type = "todo.task.completed"


class TaskDeleted(TaskEvent):
    event_type = "todo.task.deleted"


class RecurrenceCreated(Payload):
    event_type = "todo.recurrence.created"

    task_id: UUID
    recurrence: Recurrence


def catalogue() -> dict[str, type[Payload]]:
    """Every event type's payload. The reminder and notification payloads live in
    `todo.reminder_events`, loaded here and where they are used, not on create_task's import
    path: their models cost a cold start ~10 ms (python -X importtime)."""
    from todo import reminder_events

    payloads: list[type[Payload]] = [
        TaskCreated,
        TaskUpdated,
        TaskCompleted,
        TaskDeleted,
        RecurrenceCreated,
        *reminder_events.PAYLOADS,
    ]
    return {p.event_type: p for p in payloads}
