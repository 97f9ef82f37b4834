"""The browser's session: the refresh token in an HttpOnly cookie it asked for with
`X-Session: cookie`, never in a body; the body-token mode of the SDK and CLI unchanged."""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx

from tests.conftest import PASSWORD, Account

BROWSER = {"x-session": "cookie", "origin": "http://todo.test"}
COOKIE = "todo_refresh"


def set_cookie(response: httpx.Response) -> SimpleCookie:
    (header,) = response.headers.get_list("set-cookie")
    cookie = SimpleCookie()
    cookie.load(header)
    return cookie


async def browser_login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await client.post(
        "/api/auth/login", json={"email": email, "password": PASSWORD}, headers=BROWSER
    )
    assert response.status_code == 200, response.text
    return response


async def browser_refresh(client: httpx.AsyncClient, token: str, **headers: str) -> httpx.Response:
    # The client's base URL is plain http, where a jar keeps no Secure cookie: sent by hand.
    sent = {**BROWSER, "cookie": f"{COOKIE}={token}", **headers}
    return await client.post("/api/auth/refresh", json={}, headers=sent)


async def test_a_browser_gets_the_refresh_token_in_a_strict_httponly_cookie_only(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await browser_login(client, alice.email)
    body = response.json()
    assert body["refresh_token"] is None
    assert body["access_token"]
    morsel = set_cookie(response)[COOKIE]
    assert len(morsel.value) == 43
    assert morsel["httponly"] is True
    assert morsel["secure"] is True
    assert morsel["samesite"] == "strict"
    assert morsel["path"] == "/api/auth"
    assert int(morsel["max-age"]) == body["refresh_expires_in"]


async def test_registering_in_a_browser_sets_the_cookie_too(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register",
        json={"email": "new@example.com", "password": PASSWORD},
        headers=BROWSER,
    )
    assert response.status_code == 201
    assert response.json()["refresh_token"] is None
    assert set_cookie(response)[COOKIE]["httponly"] is True


async def test_refresh_by_cookie_rotates_it_and_the_spent_one_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = set_cookie(await browser_login(client, alice.email))[COOKIE].value
    refreshed = await browser_refresh(client, first)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] is None
    second = set_cookie(refreshed)[COOKIE].value
    assert second != first
    me = await client.get(
        "/api/auth/me", headers={"authorization": f"Bearer {refreshed.json()['access_token']}"}
    )
    assert me.json()["email"] == alice.email
    reused = await browser_refresh(client, first)
    assert reused.json()["type"] == "/problems/refresh-token-reused"


async def test_refresh_by_cookie_needs_the_header_and_this_origin(
    client: httpx.AsyncClient, alice: Account
) -> None:
    token = set_cookie(await browser_login(client, alice.email))[COOKIE].value
    # A cross-site form or fetch cannot send X-Session; without it the cookie is not read.
    no_header = await client.post(
        "/api/auth/refresh", json={}, headers={"cookie": f"{COOKIE}={token}"}
    )
    assert no_header.status_code == 422
    elsewhere = await browser_refresh(client, token, origin="https://evil.example")
    assert elsewhere.status_code == 403
    assert (await browser_refresh(client, token, origin="null")).status_code == 403
    # Neither attempt spent the token.
    assert (await browser_refresh(client, token)).status_code == 200


async def test_refresh_or_logout_without_the_cookie_is_401(client: httpx.AsyncClient) -> None:
    for route in ("/api/auth/refresh", "/api/auth/logout"):
        response = await client.post(route, json={}, headers=BROWSER)
        assert response.status_code == 401


async def test_logout_by_cookie_ends_the_session_and_clears_the_cookie(
    client: httpx.AsyncClient, alice: Account
) -> None:
    token = set_cookie(await browser_login(client, alice.email))[COOKIE].value
    response = await client.post(
        "/api/auth/logout", json={}, headers={**BROWSER, "cookie": f"{COOKIE}={token}"}
    )
    assert response.status_code == 204
    cleared = set_cookie(response)[COOKIE]
    assert (cleared.value, cleared["max-age"], cleared["path"]) == ("", "0", "/api/auth")
    assert (await browser_refresh(client, token)).status_code == 401


async def test_the_sdks_body_tokens_work_as_before_and_set_no_cookie(
    client: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.post("/api/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert "set-cookie" not in login.headers
    refresh_token = login.json()["refresh_token"]
    refreshed = await client.post("/api/auth/refresh", json={"refresh_token": refresh_token})
    assert refreshed.status_code == 200
    assert "set-cookie" not in refreshed.headers
    assert refreshed.json()["refresh_token"]
    assert (await client.post("/api/auth/refresh", json={})).status_code == 422


async def test_a_password_change_in_a_browser_renews_the_cookie_not_the_body(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "another long passphrase"},
        headers={**alice.headers, **BROWSER},
    )
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"] is None
    assert set_cookie(response)[COOKIE]["httponly"] is True


async def test_another_value_of_the_header_is_a_mistake_not_body_mode(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        "/api/auth/login",
        json={"email": alice.email, "password": PASSWORD},
        headers={"x-session": "Cookie "},
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["X-Session"]
