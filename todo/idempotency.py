"""Idempotent creates: the first response to a key is the response to every retry of it.

The key row is inserted in the same transaction as the create. A second request with the
same key blocks on that row until the first commits, then reads its response, so even
two requests at the same moment create one thing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from todo.db import Connection
from todo.errors import IdempotencyKeyReused, InvalidInput

MAX_KEY_LENGTH = 255


def check_key(key: str, field: str = "Idempotency-Key") -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput.single(field, f"must be 1 to {MAX_KEY_LENGTH} printable characters")
    return key


def request_hash(request: BaseModel) -> str:
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


# A claim made by the statement that creates (tasks.CREATE_TASK), with the response it will
# give: a row named `claim` if the key was free (or no key was given: `key` is null), none
# if it is taken. The fields are the statement's parameter numbers.
CLAIM_WITH_RESPONSE = """
claim as (
    insert into idempotency_keys (user_id, key, request_hash, status, response, created_at)
    select ${user}::uuid, ${key}::text, ${fingerprint}::text, 201, ${response}::jsonb,
           ${now}::timestamptz
    where ${key}::text is not null
    on conflict (user_id, key) do nothing
    returning true
)"""


async def claim(
    conn: Connection, user_id: UUID, key: str, fingerprint: str, now: datetime
) -> dict[str, Any] | None:
    """Claim `key` for this request, or return the stored response of the earlier one."""
    claimed = await conn.fetchval(
        """
        insert into idempotency_keys (user_id, key, request_hash, status, response, created_at)
        values ($1, $2, $3, 0, '{}', $4)
        on conflict (user_id, key) do nothing
        returning true
        """,
        user_id,
        key,
        fingerprint,
        now,
    )
    if claimed:
        return None
    return await stored(conn, user_id, key, fingerprint)


async def stored(conn: Connection, user_id: UUID, key: str, fingerprint: str) -> dict[str, Any]:
    """The response stored for `key`, which must have been claimed by the same request."""
    row = await conn.fetchrow(
        "select request_hash, response from idempotency_keys where user_id = $1 and key = $2",
        user_id,
        key,
    )
    assert row is not None  # the conflicting row exists: it made the insert do nothing
    if row["request_hash"] != fingerprint:
        raise IdempotencyKeyReused("this key was used for a different request")
    response: dict[str, Any] = row["response"]
    return response


async def record(
    conn: Connection, user_id: UUID, key: str, status: int, response: dict[str, Any]
) -> None:
    await conn.execute(
        "update idempotency_keys set status = $3, response = $4 where user_id = $1 and key = $2",
        user_id,
        key,
        status,
        response,
    )


async def forget_user(conn: Connection, user_id: UUID) -> None:
    await conn.execute("delete from idempotency_keys where user_id = $1", user_id)
