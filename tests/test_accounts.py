"""Accounts and tokens: register, login with throttling, me, and strict JWT checks."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import PASSWORD, Account, MakeUser, rewire
from todo.clock import ManualClock
from todo.runtime import Runtime
from todo.tokens import issue_token
from todo_cli.dev import Stack


async def test_register_returns_the_user_and_a_working_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register",
        json={"email": "Carol@Example.com", "password": PASSWORD, "timezone": "Europe/Berlin"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["user"]["email"] == "Carol@Example.com"
    assert body["user"]["timezone"] == "Europe/Berlin"
    assert body["user"]["permissions"] == ["tasks:read", "tasks:write"]
    assert response.headers["location"] == "/api/auth/me"

    me = await client.get(
        "/api/auth/me", headers={"authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json() == body["user"]


async def test_the_same_email_in_another_case_cannot_register_twice(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        "/api/auth/register", json={"email": "ALICE@example.com", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/email-taken"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "x@example.com", "password": "short"}, "password"),
        ({"email": "x@example.com", "password": PASSWORD, "timezone": "Mars/Olympus"}, "timezone"),
        ({"email": "x@example.com", "password": PASSWORD, "admin": True}, "admin"),
        ({"email": "x@example.com"}, "password"),
        ({"email": 42, "password": PASSWORD}, "email"),
    ],
)
async def test_register_names_the_invalid_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize("password", ["password123", "Qwertyuiop", " iloveyou1 ", "12345678"])
async def test_a_common_password_is_refused_by_name(
    client: httpx.AsyncClient, password: str
) -> None:
    response = await client.post(
        "/api/auth/register", json={"email": "x@example.com", "password": password}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "password", "message": "Value error, is too common"}
    ]


def test_the_common_password_list_is_read_only_when_someone_registers() -> None:
    # A cold start of any function, auth included, must not pay for reading it.
    code = (
        "import functions; [functions.load(n) for n in functions.FUNCTIONS]; "
        "from todo import common_passwords; "
        "assert common_passwords._common.cache_info().currsize == 0"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


async def test_login_gives_a_token_for_the_right_password_only(
    client: httpx.AsyncClient, alice: Account
) -> None:
    ok = await client.post(
        "/api/auth/login", json={"email": "alice@EXAMPLE.com", "password": PASSWORD}
    )
    assert ok.status_code == 200
    assert set(ok.json()) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }

    wrong = await client.post(
        "/api/auth/login", json={"email": alice.email, "password": "nope-nope"}
    )
    unknown = await client.post(
        "/api/auth/login", json={"email": "who@example.com", "password": "x"}
    )
    assert wrong.status_code == unknown.status_code == 401
    # The same answer either way: nothing says whether the account exists.
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_repeated_failures_lock_the_email_from_that_address_with_growing_waits(
    client: httpx.AsyncClient, alice: Account, clock: ManualClock
) -> None:
    bad = {"email": alice.email, "password": "wrong password"}
    for _ in range(5):
        assert (await client.post("/api/auth/login", json=bad)).status_code == 401

    # Locked: even the right password is refused until the lock runs out.
    good = {"email": alice.email, "password": PASSWORD}
    locked = await client.post("/api/auth/login", json=good)
    assert locked.status_code == 429
    assert locked.json()["type"] == "/problems/login-throttled"
    assert 1 <= int(locked.headers["retry-after"]) <= 31

    clock.advance(timedelta(seconds=31))
    assert (await client.post("/api/auth/login", json=bad)).status_code == 401
    # One more failure after the threshold doubles the lock.
    clock.advance(timedelta(seconds=31))
    assert (await client.post("/api/auth/login", json=good)).status_code == 429
    clock.advance(timedelta(seconds=30))
    assert (await client.post("/api/auth/login", json=good)).status_code == 200

    # Success resets the count: four more failures do not lock.
    for _ in range(4):
        assert (await client.post("/api/auth/login", json=bad)).status_code == 401
    assert (await client.post("/api/auth/login", json=good)).status_code == 200


def _from(address: str) -> dict[str, str]:
    return {"x-real-ip": address}


async def test_failures_from_another_address_do_not_lock_the_victim_out(
    client: httpx.AsyncClient, rt: Runtime, alice: Account
) -> None:
    rewire(rt, client_address_header="x-real-ip")
    bad = {"email": alice.email, "password": "wrong password"}
    good = {"email": alice.email, "password": PASSWORD}
    for _ in range(6):
        await client.post("/api/auth/login", json=bad, headers=_from("203.0.113.9"))
    attacker = await client.post("/api/auth/login", json=good, headers=_from("203.0.113.9"))
    assert attacker.status_code == 429
    victim = await client.post("/api/auth/login", json=good, headers=_from("198.51.100.7"))
    assert victim.status_code == 200


async def test_an_unknown_email_is_throttled_exactly_like_a_known_one(
    client: httpx.AsyncClient, alice: Account, clock: ManualClock
) -> None:
    async def six_failures(email: str) -> list[tuple[int, str | None, str]]:
        answers = []
        for _ in range(6):
            response = await client.post(
                "/api/auth/login", json={"email": email, "password": "wrong password"}
            )
            answers.append(
                (response.status_code, response.headers.get("retry-after"), response.text)
            )
        return answers

    known = await six_failures(alice.email)
    unknown = await six_failures("nobody@example.com")
    assert [status for status, _, _ in known] == [401] * 5 + [429]
    assert [a[:2] for a in unknown] == [a[:2] for a in known]
    assert [a[2].replace("nobody@example.com", "") for a in unknown] == [a[2] for a in known]


async def test_one_address_failing_across_many_emails_is_throttled_whatever_the_email(
    client: httpx.AsyncClient, rt: Runtime, alice: Account
) -> None:
    rewire(rt, client_address_header="x-real-ip", login_address_max_failures=8)
    spray = _from("203.0.113.9")
    for n in range(8):  # never five on one email
        body = {"email": f"guess-{n}@example.com", "password": "wrong password"}
        assert (await client.post("/api/auth/login", json=body, headers=spray)).status_code == 401
    good = {"email": alice.email, "password": PASSWORD}
    throttled = await client.post("/api/auth/login", json=good, headers=spray)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) == 900 + 1
    assert (
        await client.post("/api/auth/login", json=good, headers=_from("198.51.100.7"))
    ).is_success


async def test_the_address_header_counts_only_when_configured(
    client: httpx.AsyncClient, alice: Account
) -> None:
    # By default the socket peer is the client: a header of the caller's choosing is not.
    for n in range(5):
        body = {"email": alice.email, "password": "wrong password"}
        await client.post("/api/auth/login", json=body, headers=_from(f"192.0.2.{n}"))
    good = {"email": alice.email, "password": PASSWORD}
    response = await client.post("/api/auth/login", json=good, headers=_from("192.0.2.99"))
    assert response.status_code == 429


async def test_patch_me_changes_the_time_zone(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.patch(
        "/api/auth/me", json={"timezone": "America/New_York"}, headers=alice.headers
    )
    assert response.status_code == 200
    assert response.json()["timezone"] == "America/New_York"
    bad = await client.patch(
        "/api/auth/me", json={"timezone": "Nowhere/City"}, headers=alice.headers
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "timezone"
    me = await client.get("/api/auth/me", headers=alice.headers)
    assert me.json()["timezone"] == "America/New_York"


def _claims(rt: Runtime, account: Account, **changes: Any) -> dict[str, Any]:
    now = int(rt.clock.now().timestamp())
    claims: dict[str, Any] = {
        "sub": str(account.id),
        "iss": rt.settings.jwt_issuer,
        "aud": rt.settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
        "roles": ["user"],
        "permissions": ["tasks:read", "tasks:write"],
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(
    rt: Runtime, claims: dict[str, Any], key: str | None = None, algorithm: str = "HS256"
) -> str:
    return jwt.encode(claims, key or rt.settings.jwt_secret or "", algorithm=algorithm)


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(
            lambda rt, a: _sign(rt, _claims(rt, a), key="another-secret-of-enough-length!!"),
            id="bad-signature",
        ),
        pytest.param(
            lambda rt, a: _sign(rt, _claims(rt, a), algorithm="HS512"), id="algorithm-not-allowed"
        ),
        pytest.param(lambda rt, a: jwt.encode(_claims(rt, a), "", algorithm="none"), id="alg-none"),
        pytest.param(
            lambda rt, a: _sign(rt, _claims(rt, a, aud="someone-else")), id="wrong-audience"
        ),
        pytest.param(
            lambda rt, a: _sign(rt, _claims(rt, a, iss="someone-else")), id="wrong-issuer"
        ),
        pytest.param(lambda rt, a: _sign(rt, _claims(rt, a, exp=None)), id="no-exp"),
        pytest.param(lambda rt, a: _sign(rt, _claims(rt, a, iat=None)), id="no-iat"),
        pytest.param(lambda rt, a: _sign(rt, _claims(rt, a, sub=None)), id="no-sub"),
        pytest.param(lambda rt, a: _sign(rt, _claims(rt, a, sub="not-a-uuid")), id="sub-not-uuid"),
        pytest.param(
            lambda rt, a: _sign(rt, _claims(rt, a, permissions="tasks:write")),
            id="permissions-not-list",
        ),
        pytest.param(lambda rt, a: "not.a.jwt", id="garbage"),
        pytest.param(
            lambda rt, a: _sign(rt, _claims(rt, a, exp=str(_claims(rt, a)["exp"]))),
            id="exp-a-string",
        ),
        pytest.param(
            lambda rt, a: _sign(rt, _claims(rt, a, iat=str(_claims(rt, a)["iat"]))),
            id="iat-a-string",
        ),
        pytest.param(
            lambda rt, a: _sign(rt, _claims(rt, a, nbf=str(_claims(rt, a)["iat"]))),
            id="nbf-a-string",
        ),
        pytest.param(lambda rt, a: _sign(rt, _claims(rt, a, iat=True)), id="iat-a-boolean"),
    ],
)
async def test_a_bad_token_is_401(
    client: httpx.AsyncClient, rt: Runtime, alice: Account, make_token: Any
) -> None:
    token = make_token(rt, alice)
    response = await client.get("/api/tasks", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_token_expires_with_the_clock(
    client: httpx.AsyncClient, alice: Account, clock: ManualClock
) -> None:
    assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200
    clock.advance(timedelta(hours=1, seconds=31))
    response = await client.get("/api/tasks", headers=alice.headers)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer  "])
async def test_missing_or_malformed_authorization_is_401(
    client: httpx.AsyncClient, header: str | None
) -> None:
    headers = {"authorization": header} if header is not None else {}
    response = await client.get("/api/tasks", headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "form",
    [
        "Bearer  {token}",
        "Bearer\t{token}",
        "Bearer {token} ",
        "Bearer {token} extra",
        "Bearer {token},Basic dXNlcjpwYXNz",
        "Bearer={token}",
        "Token {token}",
        "",
    ],
)
async def test_only_one_spelling_of_the_bearer_header_is_taken(
    client: httpx.AsyncClient, alice: Account, form: str
) -> None:
    headers = {"authorization": form.format(token=alice.token)}
    response = await client.get("/api/tasks", headers=headers)
    assert response.status_code == 401
    assert "Authorization: Bearer <token>" in response.json()["detail"]


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_the_bearer_scheme_is_case_insensitive(
    client: httpx.AsyncClient, alice: Account, scheme: str
) -> None:
    headers = {"authorization": f"{scheme} {alice.token}"}
    assert (await client.get("/api/tasks", headers=headers)).status_code == 200


async def test_a_read_only_token_reads_but_cannot_write(
    client: httpx.AsyncClient, rt: Runtime, alice: Account, create_task: Any
) -> None:
    task = await create_task(alice, title="mine")
    token = issue_token(rt.settings, alice.id, ["user"], ["tasks:read"], rt.clock.now())
    read_only = {"authorization": f"Bearer {token}"}

    assert (await client.get("/api/tasks", headers=read_only)).status_code == 200
    assert (await client.get(f"/api/tasks/{task['id']}", headers=read_only)).status_code == 200
    writes = [
        client.post("/api/tasks", json={"title": "x"}, headers=read_only),
        client.patch(f"/api/tasks/{task['id']}", json={"title": "y"}, headers=read_only),
        client.post(f"/api/tasks/{task['id']}/complete", headers=read_only),
        client.post(f"/api/tasks/{task['id']}/reopen", headers=read_only),
        client.delete(f"/api/tasks/{task['id']}", headers=read_only),
    ]
    for write in writes:
        response = await write
        assert response.status_code == 403
        assert response.json()["type"] == "/problems/forbidden"


async def test_me_needs_tasks_read_to_read_and_tasks_write_to_change(
    client: httpx.AsyncClient, rt: Runtime, alice: Account
) -> None:
    def bearer(permissions: list[str]) -> dict[str, str]:
        token = issue_token(rt.settings, alice.id, ["user"], permissions, rt.clock.now())
        return {"authorization": f"Bearer {token}"}

    patch = {"timezone": "Europe/Paris"}
    no_permission = await client.get("/api/auth/me", headers=bearer([]))
    assert no_permission.status_code == 403
    assert "tasks:read" in no_permission.json()["detail"]
    read_only = await client.patch("/api/auth/me", json=patch, headers=bearer(["tasks:read"]))
    assert read_only.status_code == 403
    assert "tasks:write" in read_only.json()["detail"]
    assert (await client.get("/api/auth/me", headers=bearer(["tasks:read"]))).status_code == 200
    assert (await client.get("/api/auth/me", headers=alice.headers)).json()["timezone"] == "UTC"


async def test_two_users_get_separate_accounts(
    make_user: MakeUser, client: httpx.AsyncClient
) -> None:
    one, two = await make_user(), await make_user()
    me_one = await client.get("/api/auth/me", headers=one.headers)
    me_two = await client.get("/api/auth/me", headers=two.headers)
    assert me_one.json()["id"] == str(one.id) != me_two.json()["id"]


async def _delete_account(rt: Runtime, account: Account) -> None:
    async with rt.database.transaction() as conn:
        await conn.execute("delete from users where id = $1", account.id)


def _authenticated_routes(stack: Stack) -> list[tuple[str, str]]:
    """Every route a user's token opens, with its path parameters filled in."""
    return [
        (route.method, re.sub(r"{\w+}", str(uuid.uuid4()), route.path))
        for function in stack.functions.values()
        for route in function.api.routes
        if not (route.public or route.sidecar or route.platform)
    ]


def _is_account_gone(response: httpx.Response) -> bool:
    body = response.json()
    return (response.status_code, body["type"], body["detail"]) == (
        401,
        "/problems/unauthenticated",
        "the token's account no longer exists",
    )


async def test_a_deleted_account_s_token_is_401_on_every_route_once_the_check_lapses(
    client: httpx.AsyncClient, rt: Runtime, stack: Stack, alice: Account, clock: ManualClock
) -> None:
    assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200
    await _delete_account(rt, alice)
    # The process remembers for ACCOUNT_CHECK_SECONDS that the account existed.
    assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200
    clock.advance(timedelta(seconds=rt.settings.account_check_seconds))
    routes = _authenticated_routes(stack)
    assert ("POST", "/api/tasks") in routes
    assert {"GET", "POST", "PATCH", "DELETE"} <= {method for method, _ in routes}
    for method, path in routes:
        response = await client.request(method, path, headers=alice.headers)
        assert _is_account_gone(response), (method, path, response.text)


async def test_creating_a_task_for_a_deleted_account_is_401_at_once(
    client: httpx.AsyncClient, rt: Runtime, alice: Account
) -> None:
    assert (await client.get("/api/tasks", headers=alice.headers)).status_code == 200
    await _delete_account(rt, alice)
    created = await client.post("/api/tasks", json={"title": "orphan"}, headers=alice.headers)
    assert _is_account_gone(created), created.text
    # And the process stops trusting its remembered confirmation.
    assert _is_account_gone(await client.get("/api/tasks", headers=alice.headers))
    async with rt.database.transaction() as conn:
        assert await conn.fetchval("select count(*) from tasks") == 0


async def test_a_deleted_account_s_stale_token_does_not_stop_registering_again(
    client: httpx.AsyncClient, rt: Runtime, alice: Account
) -> None:
    await _delete_account(rt, alice)
    again = await client.post(
        "/api/auth/register",
        json={"email": alice.email, "password": PASSWORD},
        headers=alice.headers,  # a client still sending the old token
    )
    assert again.status_code == 201, again.text
