"""Accounts: register, log in (throttled, see `todo.login_throttle`), read and change the
profile, confirm and change the password."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from todo import login_throttle, passwords, sessions
from todo.account_models import PasswordChange, Register, User
from todo.db import Connection, Database
from todo.errors import AccountGone, EmailTaken, LoginThrottled, NotAuthenticated, WrongPassword
from todo.settings import Settings
from todo.tokens import Principal

DEFAULT_ROLES = ["user"]
DEFAULT_PERMISSIONS = ["tasks:read", "tasks:write"]

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


async def log_in(
    database: Database,
    email: str,
    password: str,
    address: str,
    now: datetime,
    settings: Settings,
) -> User:
    """The account for these credentials, or LoginThrottled / NotAuthenticated."""
    attempt = login_throttle.Attempt.of(email, address)
    row = await _check_password(
        database, attempt, password, now, settings, lambda conn: _credentials(conn, email)
    )
    if row is None:
        raise NotAuthenticated("invalid email or password")
    return User.model_validate(dict(row))


async def confirm_password(
    database: Database,
    user_id: UUID,
    password: str,
    field: str,
    address: str,
    now: datetime,
    settings: Settings,
) -> User:
    """A signed-in user proving it again before a change that needs it: the account, or
    LoginThrottled / WrongPassword (naming `field`). Throttled like login, keyed on the
    account instead of an email, so a stolen access token cannot guess the password."""
    attempt = login_throttle.Attempt.of(f"account:{user_id}", address)
    row = await _check_password(
        database,
        attempt,
        password,
        now,
        settings,
        lambda conn: conn.fetchrow(
            f"select {_USER_COLUMNS}, password_hash from users where id = $1", user_id
        ),
    )
    if row is None:
        raise WrongPassword(field)
    return User.model_validate(dict(row))


async def _check_password(
    database: Database,
    attempt: login_throttle.Attempt,
    password: str,
    now: datetime,
    settings: Settings,
    credentials: Callable[[Connection], Awaitable[asyncpg.Record | None]],
) -> asyncpg.Record | None:
    """The account's row if `password` is its password; None if not; LoginThrottled.

    The password check (tens of milliseconds of scrypt) runs between two short
    transactions, holding no connection. An unknown account costs the same check and counts
    the same failure as a wrong password, so nothing tells the two apart.
    """
    async with database.transaction() as conn:
        wait = await login_throttle.retry_after(conn, attempt, now)
        row = None if wait else await credentials(conn)
    if wait:
        raise LoginThrottled(f"too many failed logins; try again in {wait} seconds", wait)
    if row is None:
        matches = await passwords.verify_unknown_user(password)
    else:
        matches = await passwords.verify_password(password, row["password_hash"])
    async with database.transaction() as conn:
        if matches:
            await login_throttle.clear_pair(conn, attempt)
        else:
            await login_throttle.record_failure(conn, attempt, now, settings)
    return row if matches else None


async def _credentials(conn: Connection, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"select {_USER_COLUMNS}, password_hash from users where lower(email) = lower($1)",
        email.strip(),
    )


async def change_password(
    database: Database,
    user: Principal,
    form: PasswordChange,
    address: str,
    now: datetime,
    settings: Settings,
) -> tuple[User, sessions.Refresh]:
    """Set a new password once the current one is confirmed; end every other session (all
    of them, if the token names none) and return the next refresh token of this one."""
    account = await confirm_password(
        database, user.user_id, form.current_password, "current_password", address, now, settings
    )
    password_hash = await passwords.hash_password(form.new_password)
    async with database.transaction() as conn:
        updated = await conn.execute(
            "update users set password_hash = $2, updated_at = $3 where id = $1",
            user.user_id,
            password_hash,
            now,
        )
        if updated == "UPDATE 0":
            raise AccountGone()
        await sessions.revoke_others(conn, user.user_id, user.session_id, now, "password")
        refresh = await sessions.renew(conn, user.user_id, user.session_id, now, settings)
    return account, refresh


async def delete_user(conn: Connection, user_id: UUID) -> None:
    """The account row, and with it (on delete cascade) its tasks, their reminders and its
    sessions. `todo.account_deletion` deletes the rest."""
    deleted = await conn.execute("delete from users where id = $1", user_id)
    if deleted == "DELETE 0":
        raise AccountGone()


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
