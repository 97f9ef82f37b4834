"""Deleting an account: the password once more, then every row of the user, in one
transaction.

The users row goes first: it takes the row's lock, so a change of the user's racing the
deletion waits for it and then fails on its foreign key (answered 401, the account gone)
instead of leaving a row behind. Its cascade takes the tasks, their reminders and the
sessions; each module that owns a table without that foreign key deletes the user's rows
there. Processed-event marks stay: they hold no user data, and they keep an event still
on its way from being handled as new.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from todo import accounts, audit, dead_letters, idempotency, notifications, outbox
from todo.db import Database
from todo.settings import Settings


async def delete_account(
    database: Database,
    user_id: UUID,
    password: str,
    address: str,
    now: datetime,
    settings: Settings,
) -> None:
    await accounts.confirm_password(database, user_id, password, "password", address, now, settings)
    async with database.transaction() as conn:
        await accounts.delete_user(conn, user_id)
        for forget_user in (
            outbox.forget_user,
            audit.forget_user,
            notifications.forget_user,
            idempotency.forget_user,
            dead_letters.forget_user,
        ):
            await forget_user(conn, user_id)
