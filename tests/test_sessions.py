"""Sessions that last: rotating refresh tokens, reuse detection, expiry, logout, password
change and account deletion."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, Account, MakeUser, settle
from tests.test_notifications import make_notifications
from todo import dead_letters
from todo.clock import ManualClock
from todo.db import Connection
from todo.runtime import Runtime
from todo.tokens import issue_token
from todo_cli.dev import Stack

DAY = timedelta(days=1)
NEW_PASSWORD = "another long passphrase"

Pair = dict[str, Any]


def bearer(pair: Pair) -> dict[str, str]:
    return {"authorization": f"Bearer {pair['access_token']}"}


async def log_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Pair:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    pair: Pair = response.json()
    return pair


async def refresh(client: httpx.AsyncClient, pair: Pair) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})


async def refreshed(client: httpx.AsyncClient, pair: Pair) -> Pair:
    response = await refresh(client, pair)
    assert response.status_code == 200, response.text
    new: Pair = response.json()
    return new


def refused(response: httpx.Response, detail: str, kind: str = "unauthenticated") -> bool:
    body = response.json()
    expected = (401, f"/problems/{kind}", True)
    return (response.status_code, body.get("type"), detail in body.get("detail", "")) == expected


async def test_register_and_login_hand_out_an_access_and_a_refresh_token(
    client: httpx.AsyncClient,
) -> None:
    registered = await client.post(
        "/api/auth/register", json={"email": "carol@example.com", "password": PASSWORD}
    )
    assert registered.status_code == 201
    logged_in = await log_in(client, "carol@example.com")
    for pair in (registered.json(), logged_in):
        assert pair["token_type"] == "Bearer"
        assert pair["expires_in"] == 3600
        assert len(pair["refresh_token"]) == 43
        assert pair["refresh_expires_in"] == 30 * 24 * 3600
        assert (await client.get("/api/auth/me", headers=bearer(pair))).status_code == 200
    assert registered.json()["refresh_token"] != logged_in["refresh_token"]


async def test_refresh_rotates_the_pair_and_refuses_the_spent_token(
    client: httpx.AsyncClient, alice: Account, clock: ManualClock
) -> None:
    first = await log_in(client, alice.email)
    clock.advance(timedelta(minutes=50))
    second = await refreshed(client, first)
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    me = await client.get("/api/auth/me", headers=bearer(second))
    assert me.json()["id"] == str(alice.id)
    # The old access token lives out its hour; the old refresh token is spent.
    assert (await client.get("/api/tasks", headers=bearer(first))).status_code == 200
    assert refused(await refresh(client, first), "already used", "refresh-token-reused")
    clock.advance(timedelta(minutes=11, seconds=30))
    assert (await client.get("/api/tasks", headers=bearer(first))).status_code == 401


async def test_a_reused_refresh_token_revokes_its_session_but_not_another_sign_in(
    client: httpx.AsyncClient, alice: Account
) -> None:
    phone = await log_in(client, alice.email)
    laptop = await log_in(client, alice.email)
    stolen = phone
    phone = await refreshed(client, phone)  # the owner rotates first

    reused = await refresh(client, stolen)
    assert reused.status_code == 401
    assert reused.json()["type"] == "/problems/refresh-token-reused"
    assert reused.headers["www-authenticate"].startswith("Bearer")
    # The newest token of that session is refused too: whoever holds it signs in again.
    assert refused(await refresh(client, phone), "session has ended")
    assert refused(await refresh(client, stolen), "session has ended")
    # The other sign-in goes on.
    laptop = await refreshed(client, laptop)
    assert (await refresh(client, laptop)).status_code == 200


async def test_a_use_waiting_on_a_rotation_of_the_same_token_is_a_reuse(
    client: httpx.AsyncClient, rt: Runtime, alice: Account
) -> None:
    pair = await log_in(client, alice.email)
    token_hash = hashlib.sha256(pair["refresh_token"].encode()).digest()
    async with rt.database.transaction() as rotating:  # a rotation, caught before its commit
        await rotating.execute(
            "update refresh_tokens set spent_at = $2 where token_hash = $1",
            token_hash,
            rt.clock.now(),
        )
        racing = asyncio.create_task(refresh(client, pair))
        for _ in range(1000):  # until the racing request waits on the rotation's lock
            # From another connection: a transaction sees one snapshot of pg_stat_activity.
            waiting = await rt.database.fetchval(
                """
                select count(*) from pg_stat_activity
                where datname = current_database() and wait_event_type = 'Lock'
                """
            )
            if waiting:
                break
        assert waiting == 1
    assert refused(await racing, "already used", "refresh-token-reused")


async def test_a_refresh_token_expires_unless_used_and_no_session_outlives_its_lifetime(
    client: httpx.AsyncClient, alice: Account, clock: ManualClock
) -> None:
    idle = await log_in(client, alice.email)
    active = await log_in(client, alice.email)
    for _ in range(4):  # days 20, 40, 60 and 80: each use slides the expiry on
        clock.advance(20 * DAY)
        active = await refreshed(client, active)
    assert refused(await refresh(client, idle), "expired")
    # Day 80 of a 90-day session: the token ends with the session, not 30 days on.
    assert active["refresh_expires_in"] == int((10 * DAY).total_seconds())
    clock.advance(10 * DAY)
    assert refused(await refresh(client, active), "expired")


async def test_logout_ends_the_session_and_is_idempotent(
    client: httpx.AsyncClient, alice: Account
) -> None:
    pair = await log_in(client, alice.email)
    other = await log_in(client, alice.email)
    body = {"refresh_token": pair["refresh_token"]}
    for _ in range(2):
        response = await client.post("/api/auth/logout", json=body)
        assert response.status_code == 204
        assert response.content == b""
    assert refused(await refresh(client, pair), "session has ended")
    unknown = {"refresh_token": "A" * 43}
    assert (await client.post("/api/auth/logout", json=unknown)).status_code == 204
    assert refused(await client.post("/api/auth/refresh", json=unknown), "unknown")
    assert (await refresh(client, other)).status_code == 200


async def test_changing_the_password_ends_other_sessions_and_renews_this_one(
    client: httpx.AsyncClient, alice: Account
) -> None:
    this = await log_in(client, alice.email)
    other = await log_in(client, alice.email)
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = await client.post("/api/auth/password", json=change, headers=bearer(this))
    assert response.status_code == 200, response.text
    renewed: Pair = response.json()

    assert refused(await refresh(client, other), "session has ended")
    again = await refreshed(client, renewed)  # this session goes on with the new token
    assert (await client.get("/api/auth/me", headers=bearer(again))).status_code == 200
    # Its earlier token was spent by the change: presenting it is a reuse.
    assert refused(await refresh(client, this), "already used", "refresh-token-reused")

    wrong = await client.post("/api/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert wrong.status_code == 401
    await log_in(client, alice.email, NEW_PASSWORD)


async def test_a_token_naming_no_session_changes_the_password_in_a_new_one(
    client: httpx.AsyncClient, rt: Runtime, alice: Account
) -> None:
    before = await log_in(client, alice.email)
    token = issue_token(rt.settings, alice.id, ["user"], ["tasks:write"], rt.clock.now())
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = await client.post(
        "/api/auth/password", json=change, headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert refused(await refresh(client, before), "session has ended")
    assert (await refresh(client, response.json())).status_code == 200


async def test_a_wrong_current_password_changes_nothing(
    client: httpx.AsyncClient, alice: Account
) -> None:
    this = await log_in(client, alice.email)
    other = await log_in(client, alice.email)
    change = {"current_password": "not the password", "new_password": NEW_PASSWORD}
    response = await client.post("/api/auth/password", json=change, headers=bearer(this))
    assert response.status_code == 403
    body = response.json()
    assert body["type"] == "/problems/wrong-password"
    assert body["errors"] == [
        {"field": "current_password", "message": "is not this account's password"}
    ]
    await log_in(client, alice.email)
    assert (await refresh(client, other)).status_code == 200


async def test_guessing_the_current_password_is_throttled(
    client: httpx.AsyncClient, alice: Account
) -> None:
    this = await log_in(client, alice.email)
    guess = {"current_password": "a guess", "new_password": NEW_PASSWORD}
    for _ in range(5):
        response = await client.post("/api/auth/password", json=guess, headers=bearer(this))
        assert response.status_code == 403
    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    throttled = await client.post("/api/auth/password", json=right, headers=bearer(this))
    assert throttled.status_code == 429
    assert throttled.json()["type"] == "/problems/login-throttled"
    assert int(throttled.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"current_password": PASSWORD, "new_password": "password123"}, "new_password"),
        ({"current_password": PASSWORD, "new_password": "short"}, "new_password"),
        ({"current_password": PASSWORD}, "new_password"),
        ({"current_password": "", "new_password": NEW_PASSWORD}, "current_password"),
        ({"current_password": "x\u0000y", "new_password": NEW_PASSWORD}, "current_password"),
    ],
)
async def test_a_password_change_names_the_invalid_field(
    client: httpx.AsyncClient, alice: Account, change: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/auth/password", json=change, headers=alice.headers)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize("route", ["/api/auth/refresh", "/api/auth/logout"])
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"refresh_token": None},
        {"refresh_token": 42},
        {"refresh_token": ""},
        {"refresh_token": "not a token, not even close"},
        {"refresh_token": "A" * 44},
        {"refresh_token": "A" * 100_000},
        {"refresh_token": "A" * 42 + "\u0000"},
        {"refresh_token": "A" * 42 + "="},
        {"refresh_token": "A" * 43, "extra": 1},
    ],
)
async def test_a_bad_refresh_token_field_is_a_422_naming_it(
    client: httpx.AsyncClient, route: str, body: dict[str, Any]
) -> None:
    response = await client.post(route, json=body)
    assert response.status_code == 422, response.text
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["extra" if "extra" in body else "refresh_token"]


async def test_a_refresh_body_that_is_not_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/refresh", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/malformed-body"


# Account deletion -------------------------------------------------------------------------


async def user_id_tables(rt: Runtime) -> list[str]:
    """Every table with a user_id column: one added later is checked without a change here."""
    async with rt.database.transaction() as conn:
        rows = await conn.fetch(
            """
            select table_name from information_schema.columns
            where table_schema = 'public' and column_name = 'user_id'
            order by table_name
            """
        )
    return [r["table_name"] for r in rows]


async def rows_of(conn: Connection, user_id: uuid.UUID, tables: list[str]) -> dict[str, int]:
    counts = {
        table: await conn.fetchval(f"select count(*) from {table} where user_id = $1", user_id)
        for table in tables
    }
    counts["users"] = await conn.fetchval("select count(*) from users where id = $1", user_id)
    counts["refresh_tokens"] = await conn.fetchval(
        """
        select count(*) from refresh_tokens t join sessions s on s.id = t.session_id
        where s.user_id = $1
        """,
        user_id,
    )
    counts["dead_letters"] = await conn.fetchval(
        "select count(*) from dead_letters where event ->> 'userid' = $1", str(user_id)
    )
    return counts


async def fill_account(
    client: httpx.AsyncClient, rt: Runtime, stack: Stack, clock: ManualClock, account: Account
) -> Pair:
    """Rows in every table the account can reach: tasks, reminders, notifications, events,
    the audit log, an idempotency key, sessions and a dead letter."""
    pair = await log_in(client, account.email)
    await make_notifications(client, account, clock, stack, rt, 2)
    kept = await client.post(
        "/api/tasks",
        json={
            "title": "keyed",
            "reminders": [{"before": "PT1H"}],
            "due_at": "2027-01-01T09:00:00Z",
        },
        headers={**account.headers, "idempotency-key": f"key-{account.id}"},
    )
    assert kept.status_code == 201, kept.text
    await settle(rt)
    async with rt.database.transaction() as conn:
        await dead_letters.store(
            conn,
            topic="task.events",
            reason="for the test",
            now=clock.now(),
            event={"id": str(uuid.uuid4()), "type": "todo.task.created", "userid": str(account.id)},
        )
    return pair


async def test_deleting_the_account_removes_every_row_of_it_and_nothing_else(
    client: httpx.AsyncClient,
    rt: Runtime,
    stack: Stack,
    clock: ManualClock,
    make_user: MakeUser,
) -> None:
    alice, bob = await make_user("alice@example.com"), await make_user("bob@example.com")
    alice_pair = await fill_account(client, rt, stack, clock, alice)
    bob_pair = await fill_account(client, rt, stack, clock, bob)
    tables = await user_id_tables(rt)
    assert {"tasks", "reminders", "notifications", "events", "sessions", "audit_log"} <= set(tables)
    async with rt.database.transaction() as conn:
        alice_before = await rows_of(conn, alice.id, tables)
        bob_before = await rows_of(conn, bob.id, tables)
    assert all(alice_before.values()), alice_before  # the test reaches every table

    wrong = await client.request(
        "DELETE", "/api/auth/me", json={"password": "not it"}, headers=alice.headers
    )
    assert wrong.status_code == 403
    assert wrong.json()["errors"][0]["field"] == "password"
    deleted = await client.request(
        "DELETE", "/api/auth/me", json={"password": PASSWORD}, headers=alice.headers
    )
    assert deleted.status_code == 204, deleted.text

    async with rt.database.transaction() as conn:
        assert await rows_of(conn, alice.id, tables) == dict.fromkeys(alice_before, 0)
        assert await rows_of(conn, bob.id, tables) == bob_before
    for headers in (alice.headers, bearer(alice_pair)):
        gone = await client.get("/api/tasks", headers=headers)
        assert gone.status_code == 401
        assert gone.json()["detail"] == "the token's account no longer exists"
    assert refused(await refresh(client, alice_pair), "unknown")
    assert (await client.get("/api/tasks", headers=bob.headers)).status_code == 200
    assert (await refresh(client, bob_pair)).status_code == 200
    # The email is free again.
    again = await client.post(
        "/api/auth/register", json={"email": alice.email, "password": PASSWORD}
    )
    assert again.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "password"), ({"password": ""}, "password"), ({"password": "\u0000"}, "password")],
)
async def test_deleting_the_account_names_an_invalid_field(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any], field: str
) -> None:
    response = await client.request("DELETE", "/api/auth/me", json=body, headers=alice.headers)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await client.get("/api/auth/me", headers=alice.headers)).status_code == 200


async def test_deleting_needs_a_token_that_may_write(
    client: httpx.AsyncClient, rt: Runtime, alice: Account
) -> None:
    body = {"password": PASSWORD}
    anonymous = await client.request("DELETE", "/api/auth/me", json=body)
    assert anonymous.status_code == 401
    token = issue_token(rt.settings, alice.id, ["user"], ["tasks:read"], rt.clock.now())
    read_only = await client.request(
        "DELETE", "/api/auth/me", json=body, headers={"authorization": f"Bearer {token}"}
    )
    assert read_only.status_code == 403
    assert read_only.json()["type"] == "/problems/forbidden"
    assert (await client.get("/api/auth/me", headers=alice.headers)).status_code == 200
