"""Sessions that last: rotating refresh tokens, reuse detection, expiry and logout."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, Account
from todo.clock import ManualClock
from todo.runtime import Runtime

DAY = timedelta(days=1)

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
