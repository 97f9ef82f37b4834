"""Failed logins, counted per client address and per (email, address) pair.

Nothing here depends on whether the email belongs to an account: an unknown email is
throttled exactly like a known one, so neither the answer nor its timing tells who is
registered. And nothing locks an account for everyone: a victim logging in from their own
address is not held up by someone failing from another.

    address  LOGIN_ADDRESS_MAX_FAILURES failures, then locked for LOGIN_ADDRESS_LOCKOUT_SECONDS
             (generous: many people can share one address)
    pair     LOGIN_MAX_FAILURES failures, then locked for LOGIN_LOCKOUT_SECONDS, doubling with
             every further failure up to an hour; a successful login clears it
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from todo.db import Connection
from todo.settings import Settings

MAX_PAIR_LOCKOUT = timedelta(hours=1)
# A pair's count outlives its longest lock, so a slow guesser still meets the doubling.
PAIR_MEMORY = timedelta(days=1)
# Rows past their forget_at deleted per recorded failure: the table stays small unattended.
PRUNE_BATCH = 100


@dataclass(frozen=True)
class Limit:
    kind: str
    max_failures: int
    lockout: timedelta
    max_lockout: timedelta
    memory: timedelta

    def locked_until(self, failures: int, now: datetime) -> datetime | None:
        """No lock below the threshold; from there the lock doubles, up to its cap."""
        over = failures - self.max_failures
        if over < 0:
            return None
        return now + min(self.lockout * (1 << min(over, 16)), self.max_lockout)


def limits(settings: Settings) -> tuple[Limit, Limit]:
    address_lockout = timedelta(seconds=settings.login_address_lockout_seconds)
    return (
        Limit(
            "address",
            settings.login_address_max_failures,
            address_lockout,
            address_lockout,
            address_lockout,
        ),
        Limit(
            "pair",
            settings.login_max_failures,
            timedelta(seconds=settings.login_lockout_seconds),
            MAX_PAIR_LOCKOUT,
            PAIR_MEMORY,
        ),
    )


@dataclass(frozen=True)
class Attempt:
    """Who is trying, as hashed keys: one per kind of limit."""

    address_key: bytes
    pair_key: bytes

    @classmethod
    def of(cls, email: str, address: str) -> Attempt:
        return cls(
            hashlib.sha256(address.encode()).digest(),
            hashlib.sha256(f"{email.strip().lower()}\0{address}".encode()).digest(),
        )

    def key(self, limit: Limit) -> bytes:
        return self.address_key if limit.kind == "address" else self.pair_key


async def retry_after(conn: Connection, attempt: Attempt, now: datetime) -> int | None:
    """Seconds until this attempt may be made, if either of its keys is locked."""
    locked_until: datetime | None = await conn.fetchval(
        """
        select max(locked_until) from login_throttles
        where ((kind = 'address' and key_hash = $1) or (kind = 'pair' and key_hash = $2))
          and locked_until > $3
        """,
        attempt.address_key,
        attempt.pair_key,
        now,
    )
    if locked_until is None:
        return None
    return int((locked_until - now).total_seconds()) + 1


async def record_failure(
    conn: Connection, attempt: Attempt, now: datetime, settings: Settings
) -> None:
    for limit in limits(settings):
        key = attempt.key(limit)
        failures: int = await conn.fetchval(
            """
            insert into login_throttles as t (kind, key_hash, failures, forget_at)
            values ($1, $2, 1, $4)
            on conflict (kind, key_hash) do update set
                failures = case when t.forget_at <= $3 then 1 else t.failures + 1 end,
                locked_until = case when t.forget_at <= $3 then null else t.locked_until end,
                forget_at = greatest($4, t.locked_until)
            returning failures
            """,
            limit.kind,
            key,
            now,
            now + limit.memory,
        )
        locked_until = limit.locked_until(failures, now)
        if locked_until is not None:
            await conn.execute(
                """
                update login_throttles
                set locked_until = $3, forget_at = greatest(forget_at, $3)
                where kind = $1 and key_hash = $2
                """,
                limit.kind,
                key,
                locked_until,
            )
    await conn.execute(
        """
        delete from login_throttles where ctid = any (array(
            select ctid from login_throttles where forget_at <= $1 limit $2
        ))
        """,
        now,
        PRUNE_BATCH,
    )


async def clear_pair(conn: Connection, attempt: Attempt) -> None:
    """A successful login: this email from this address starts afresh."""
    await conn.execute(
        "delete from login_throttles where kind = 'pair' and key_hash = $1", attempt.pair_key
    )
