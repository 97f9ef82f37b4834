"""Accounts: register, log in (throttled per account), read and change the profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import asyncpg

from todo import passwords
from todo.account_models import Register, User
from todo.db import Connection
from todo.errors import AccountGone, EmailTaken, LoginThrottled, NotAuthenticated, TodoError
from todo.settings import Settings

DEFAULT_ROLES = ["user"]
DEFAULT_PERMISSIONS = ["tasks:read", "tasks:write"]
MAX_LOCKOUT = timedelta(hours=1)

_USER_COLUMNS = "id, email, timezone, roles, permissions, created_at"


async def register(conn: Connection, form: Register, now: datetime) -> User:
    password_hash = await passwords.hash_password(form.password)
    try:
        row = await conn.fetchrow(
            f"""
            insert into users (id, email, password_hash, timezone, roles, permissions,
                               created_at, updated_at)
            values ($1, $2, $3, $4, $5, $6, $7, $7)
            returning {_USER_COLUMNS}
            """,
            uuid4(),
            form.email,
            password_hash,
            form.timezone,
            DEFAULT_ROLES,
            DEFAULT_PERMISSIONS,
            now,
        )
    except asyncpg.UniqueViolationError as exc:
        raise EmailTaken("an account with this email exists") from exc
    assert row is not None
    return User.model_validate(dict(row))


@dataclass(frozen=True)
class LoginOutcome:
    """A login's result. A failure is returned, not raised, so its count still commits."""

    user: User | None
    failure: TodoError | None = None


async def check_login(
    conn: Connection, email: str, password: str, now: datetime, settings: Settings
) -> LoginOutcome:
    row = await conn.fetchrow(
        f"""
        select {_USER_COLUMNS}, password_hash, failed_logins, locked_until
        from users where lower(email) = lower($1)
        for update
        """,
        email.strip(),
    )
    if row is None:
        await passwords.verify_unknown_user(password)
        return LoginOutcome(None, NotAuthenticated("invalid email or password"))
    if row["locked_until"] is not None and row["locked_until"] > now:
        wait = int((row["locked_until"] - now).total_seconds()) + 1
        return LoginOutcome(None, LoginThrottled(f"try again in {wait} seconds", retry_after=wait))
    if await passwords.verify_password(password, row["password_hash"]):
        await conn.execute(
            "update users set failed_logins = 0, locked_until = null where id = $1", row["id"]
        )
        return LoginOutcome(User.model_validate(dict(row)))
    failures = row["failed_logins"] + 1
    await conn.execute(
        "update users set failed_logins = $2, locked_until = $3 where id = $1",
        row["id"],
        failures,
        _lock_until(failures, now, settings),
    )
    return LoginOutcome(None, NotAuthenticated("invalid email or password"))


def _lock_until(failures: int, now: datetime, settings: Settings) -> datetime | None:
    """No lock below the threshold; then the lockout doubles with every further failure."""
    over = failures - settings.login_max_failures
    if over < 0:
        return None
    lockout = timedelta(seconds=settings.login_lockout_seconds) * (1 << min(over, 16))
    return now + min(lockout, MAX_LOCKOUT)


async def get_user(conn: Connection, user_id: UUID) -> User:
    row = await conn.fetchrow(f"select {_USER_COLUMNS} from users where id = $1", user_id)
    if row is None:
        raise AccountGone()
    return User.model_validate(dict(row))


async def set_timezone(conn: Connection, user_id: UUID, timezone: str, now: datetime) -> User:
    row = await conn.fetchrow(
        f"""
        update users set timezone = $2, updated_at = $3 where id = $1
        returning {_USER_COLUMNS}
        """,
        user_id,
        timezone,
        now,
    )
    if row is None:
        raise AccountGone()
    return User.model_validate(dict(row))
