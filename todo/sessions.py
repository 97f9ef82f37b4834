"""Sessions: one per sign-in, kept going by rotating refresh tokens (sql/009_sessions.sql).

A refresh token is 256 random bits, stored as its SHA-256 (random, so a fast hash is right,
and the hash finds the row). Each token is used once: `rotate` spends it and issues the next
in the same session, its expiry sliding REFRESH_TOKEN_TTL_SECONDS on, never past the
session's SESSION_LIFETIME_SECONDS. A spent token presented again means someone else holds
the session too (the thief or the owner, no telling which), so the whole session is revoked.

Refresh is not throttled like login: a token cannot be guessed (2^256), and a flood meets
the ingress's rate limits like any other route.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Literal, NamedTuple
from uuid import UUID, uuid4

import asyncpg

from todo.db import Connection, Database
from todo.errors import NotAuthenticated, RefreshTokenReused
from todo.settings import Settings

TOKEN_BYTES = 32
# Expired sessions and tokens deleted per sign-in: the tables stay small unattended.
PRUNE_BATCH = 100

Reason = Literal["logout", "reuse", "password"]


class Refresh(NamedTuple):
    """A refresh token as handed out: the only time its text exists outside the client."""

    token: str
    session_id: UUID
    expires_at: datetime


class Rotated(NamedTuple):
    user_id: UUID
    refresh: Refresh


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def start(conn: Connection, user_id: UUID, now: datetime, settings: Settings) -> Refresh:
    """A new session (a sign-in) and its first refresh token."""
    session_id = uuid4()
    expires_at = now + timedelta(seconds=settings.session_lifetime_seconds)
    await conn.execute(
        "insert into sessions (id, user_id, created_at, expires_at) values ($1, $2, $3, $4)",
        session_id,
        user_id,
        now,
        expires_at,
    )
    await _prune(conn, now)
    return await _issue(conn, session_id, expires_at, now, settings)


async def _issue(
    conn: Connection, session_id: UUID, session_ends: datetime, now: datetime, settings: Settings
) -> Refresh:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = min(now + timedelta(seconds=settings.refresh_token_ttl_seconds), session_ends)
    await conn.execute(
        """
        insert into refresh_tokens (token_hash, session_id, issued_at, expires_at)
        values ($1, $2, $3, $4)
        """,
        _hash(token),
        session_id,
        now,
        expires_at,
    )
    return Refresh(token, session_id, expires_at)


_PRESENTED = """
select t.session_id, t.expires_at, t.spent_at,
       s.user_id, s.expires_at as session_ends, s.revoked_at
from refresh_tokens t join sessions s on s.id = t.session_id
where t.token_hash = $1
for update
"""


def _refusal(row: asyncpg.Record, now: datetime) -> NotAuthenticated | None:
    if row["revoked_at"] is not None:
        return NotAuthenticated("this session has ended; sign in again")
    if row["expires_at"] <= now:
        return NotAuthenticated("refresh token expired; sign in again")
    if row["spent_at"] is not None:
        return RefreshTokenReused(
            "this refresh token was already used, so the session is revoked; sign in again"
        )
    return None


async def rotate(database: Database, token: str, now: datetime, settings: Settings) -> Rotated:
    """Spend `token` and issue the next of its session; NotAuthenticated if it cannot be.

    The token's row and its session's are locked, so of two uses of one token at once
    exactly one rotates and the other, reading the token again once the first commits, is
    a reuse. A reuse's revocation commits before the refusal is raised.
    """
    async with database.transaction() as conn:
        outcome = await _use(conn, token, now, settings)
    if isinstance(outcome, NotAuthenticated):
        raise outcome
    return outcome


async def _use(
    conn: Connection, token: str, now: datetime, settings: Settings
) -> Rotated | NotAuthenticated:
    token_hash = _hash(token)
    row = await conn.fetchrow(_PRESENTED, token_hash)
    if row is None:
        return NotAuthenticated("unknown refresh token")
    refusal = _refusal(row, now)
    if isinstance(refusal, RefreshTokenReused):
        await _revoke(conn, row["session_id"], "reuse", now)
    if refusal is not None:
        return refusal
    await conn.execute(
        "update refresh_tokens set spent_at = $2 where token_hash = $1", token_hash, now
    )
    refresh = await _issue(conn, row["session_id"], row["session_ends"], now, settings)
    return Rotated(row["user_id"], refresh)


async def end(database: Database, token: str, now: datetime) -> None:
    """Log out: revoke the token's session, if it is one of ours and still going."""
    async with database.transaction() as conn:
        session_id = await conn.fetchval(
            "select session_id from refresh_tokens where token_hash = $1", _hash(token)
        )
        if session_id is not None:
            await _revoke(conn, session_id, "logout", now)


async def renew(
    conn: Connection, user_id: UUID, session_id: UUID | None, now: datetime, settings: Settings
) -> Refresh:
    """A fresh refresh token for this user's session `session_id` (its outstanding one
    spent), or a new session when that one is unknown, ended or not the user's."""
    session_ends: datetime | None = None
    if session_id is not None:
        session_ends = await conn.fetchval(
            """
            select expires_at from sessions
            where id = $1 and user_id = $2 and revoked_at is null and expires_at > $3
            for update
            """,
            session_id,
            user_id,
            now,
        )
    if session_id is None or session_ends is None:
        return await start(conn, user_id, now, settings)
    await conn.execute(
        "update refresh_tokens set spent_at = $2 where session_id = $1 and spent_at is null",
        session_id,
        now,
    )
    return await _issue(conn, session_id, session_ends, now, settings)


async def revoke_others(
    conn: Connection, user_id: UUID, keep: UUID | None, now: datetime, reason: Reason
) -> None:
    """End every session of the user but `keep`."""
    await conn.execute(
        """
        update sessions set revoked_at = $3, revoked_reason = $4
        where user_id = $1 and id is distinct from $2 and revoked_at is null
        """,
        user_id,
        keep,
        now,
        reason,
    )


async def _revoke(conn: Connection, session_id: UUID, reason: Reason, now: datetime) -> None:
    await conn.execute(
        """
        update sessions set revoked_at = $2, revoked_reason = $3
        where id = $1 and revoked_at is null
        """,
        session_id,
        now,
        reason,
    )


async def _prune(conn: Connection, now: datetime) -> None:
    """Forget what can no longer be used: expired sessions (their tokens with them) and
    expired tokens. A spent token presented after its expiry is refused as expired, so
    forgetting it loses no reuse that matters."""
    await conn.execute(
        """
        delete from sessions where id = any (array(
            select id from sessions where expires_at <= $1 limit $2
        ))
        """,
        now,
        PRUNE_BATCH,
    )
    await conn.execute(
        """
        delete from refresh_tokens where token_hash = any (array(
            select token_hash from refresh_tokens where expires_at <= $1 limit $2
        ))
        """,
        now,
        PRUNE_BATCH,
    )
