"""Accounts: register, log in (throttled, see `todo.login_throttle`), read and change the
profile."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from todo import login_throttle, passwords
from todo.account_models import Register, User
from todo.db import Connection, Database
from todo.errors import AccountGone, EmailTaken, LoginThrottled, NotAuthenticated
from todo.settings import Settings

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
    """The account for these credentials, or LoginThrottled / NotAuthenticated.

    The password check (tens of milliseconds of scrypt) runs between two short
    transactions, holding no connection. An unknown email costs the same check and counts
    the same failure as a wrong password, so nothing tells the two apart.
    """
    attempt = login_throttle.Attempt.of(email, address)
    async with database.transaction() as conn:
        wait = await login_throttle.retry_after(conn, attempt, now)
        row = None if wait else await _credentials(conn, email)
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
    if not matches:
        raise NotAuthenticated("invalid email or password")
    assert row is not None
    return User.model_validate(dict(row))


async def _credentials(conn: Connection, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"select {_USER_COLUMNS}, password_hash from users where lower(email) = lower($1)",
        email.strip(),
    )


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
