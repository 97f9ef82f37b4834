"""In-app notifications: made from due reminders, listed, and marked read."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from todo.channels import CHANNELS
from todo.consumers import Consumer, PoisonEvent, event_data
from todo.db import Connection
from todo.errors import NotFound
from todo.incoming import IncomingEvent
from todo.notification_models import Notification, NotificationPage, NotificationQuery
from todo.paging import Params, time_ordered_page
from todo.reminder_events import NotificationCreated, ReminderDue
from todo.unit_of_work import UnitOfWork

COLUMNS = "id, task_id, reminder_id, title, body, created_at, read_at"


class NotificationNotFound(NotFound):
    pass


def _body(due: ReminderDue) -> str:
    if due.reminder.message:
        return due.reminder.message
    if due.task.due_at is not None:
        return f"Due at {due.task.due_at.isoformat().replace('+00:00', 'Z')}"
    return "Reminder"


async def notify_due_reminder(work: UnitOfWork, event: IncomingEvent) -> None:
    if event.user_id is None:
        raise PoisonEvent("the event has no userid")
    user_id = event.user_id
    due = event_data(ReminderDue, event)
    row = await work.conn.fetchrow(
        f"""
        insert into notifications (id, user_id, task_id, reminder_id, title, body, created_at)
        values ($1, $2, $3, $4, $5, $6, $7)
        returning {COLUMNS}
        """,
        uuid4(),
        user_id,
        due.task.id,
        due.reminder.id,
        due.task.title,
        _body(due),
        work.now,
    )
    notification = Notification.model_validate(dict(row or {}))
    await work.emit(user_id, NotificationCreated(notification=notification), str(notification.id))

    async def send() -> None:
        for channel in CHANNELS:
            await channel.send(str(user_id), notification)

    work.after_commit.append(send)


NOTIFY = Consumer("notify", frozenset({ReminderDue.event_type}), notify_due_reminder)


async def list_notifications(
    conn: Connection, user_id: UUID, query: NotificationQuery
) -> NotificationPage:
    params = Params(user_id)
    where = ["user_id = $1"]
    if query.unread is not None:
        where.append("read_at is null" if query.unread else "read_at is not null")
    rows, next_cursor = await time_ordered_page(
        conn,
        select=f"select {COLUMNS} from notifications",
        where=where,
        params=params,
        time_column="created_at",
        descending=True,
        limit=query.limit,
        cursor=query.cursor,
    )
    items = [Notification.model_validate(dict(r)) for r in rows]
    return NotificationPage(items=items, next_cursor=next_cursor)


async def mark_read(
    conn: Connection, user_id: UUID, notification_id: UUID, now: datetime
) -> Notification:
    row = await conn.fetchrow(
        f"""
        update notifications set read_at = coalesce(read_at, $3)
        where id = $1 and user_id = $2
        returning {COLUMNS}
        """,
        notification_id,
        user_id,
        now,
    )
    if row is None:
        raise NotificationNotFound(f"no notification {notification_id}")
    return Notification.model_validate(dict(row))


async def mark_all_read(conn: Connection, user_id: UUID, now: datetime) -> int:
    status: str = await conn.execute(
        "update notifications set read_at = $2 where user_id = $1 and read_at is null", user_id, now
    )
    return int(status.split()[-1])


async def forget_user(conn: Connection, user_id: UUID) -> None:
    await conn.execute("delete from notifications where user_id = $1", user_id)
