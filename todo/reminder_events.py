"""Payloads of the reminder and notification events (see todo.event_types)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from todo.event_types import Payload
from todo.models import Output
from todo.notification_models import Notification
from todo.reminder_models import Reminder


class ReminderScheduled(Payload):
    event_type = "todo.reminder.scheduled"

    reminder: Reminder


class ReminderUpdated(Payload):
    """A reminder moved: it followed its task's new due time, or was snoozed."""

    event_type = "todo.reminder.updated"

    reminder: Reminder
    previous: Reminder


class ReminderDeleted(Payload):
    """A reminder deleted on its own (a deleted task's reminders go with its task.deleted)."""

    event_type = "todo.reminder.deleted"

    reminder: Reminder


class DueTask(Output):
    id: UUID
    title: str
    due_at: datetime | None = None


class ReminderDue(Payload):
    event_type = "todo.reminder.due"

    reminder: Reminder
    task: DueTask


class NotificationCreated(Payload):
    event_type = "todo.notification.created"

    notification: Notification


PAYLOADS: tuple[type[Payload], ...] = (
    ReminderScheduled,
    ReminderUpdated,
    ReminderDeleted,
    ReminderDue,
    NotificationCreated,
)
