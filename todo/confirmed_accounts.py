"""Is the account behind a valid token still there?

A token outlives nothing: it stays valid until it expires, even after its account is
deleted. Each authenticated request therefore confirms the account, and a process
remembers a confirmation for a short while (ACCOUNT_CHECK_SECONDS, on the injected clock)
so a client's burst of requests costs one query, not one each: the list endpoint is
benchmarked against bare asyncpg, and a round trip per request would show there.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from todo.clock import Clock
from todo.db import Database
from todo.errors import AccountGone

ACCOUNT_EXISTS = "select exists (select 1 from users where id = $1)"
# Past this many remembered accounts, the lapsed ones are forgotten on the next insert.
PRUNE_ABOVE = 10_000


class ConfirmedAccounts:
    def __init__(self, database: Database, clock: Clock, remember_seconds: float) -> None:
        self._database = database
        self._clock = clock
        self._remember = timedelta(seconds=remember_seconds)
        self._until: dict[UUID, datetime] = {}

    async def confirm(self, user_id: UUID) -> None:
        """Return if the account exists (or did a moment ago); raise AccountGone if not."""
        now = self._clock.now()
        until = self._until.get(user_id)
        if until is not None and now < until:
            return
        await confirm_now(self._database, user_id)
        if len(self._until) >= PRUNE_ABOVE:
            self._until = {u: t for u, t in self._until.items() if t > now}
        self._until[user_id] = now + self._remember

    def forget(self, user_id: UUID) -> None:
        self._until.pop(user_id, None)


async def confirm_now(database: Database, user_id: UUID) -> None:
    """Ask the database, remembering nothing: for a socket, confirmed once when it opens."""
    if not await database.fetchval(ACCOUNT_EXISTS, user_id):
        raise AccountGone()


def refers_to_a_missing_user(exc: asyncpg.ForeignKeyViolationError) -> bool:
    """A write for a user whose row is gone. Columns that reference users are named
    user_id, so Postgres names their constraints <table>_user_id_fkey."""
    return (exc.constraint_name or "").endswith("_user_id_fkey")
