"""auth: register, log in, refresh and end sessions, read and change the signed-in account."""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from todo import account_deletion, accounts, session_cookie, sessions
from todo.account_models import (
    AccountDeletion,
    Login,
    PasswordChange,
    RefreshRequest,
    Register,
    Registered,
    TokenPair,
    User,
    UserPatch,
)
from todo.errors import InvalidInput
from todo.runtime import runtime
from todo.tokens import check_config, issue_token
from todo.web import Call, FunctionApi, json_response

api = FunctionApi("auth")

# A browser asks for its refresh token in an HttpOnly cookie with `X-Session: cookie`
# (todo/session_cookie.py); the SDK and the command line send and get it in bodies.
SIGNED_OUT = (
    "Unknown, expired or revoked refresh token; /problems/refresh-token-reused when it was "
    "used already, which revokes its session"
)

CROSS_ORIGIN = "X-Session: cookie from a page of another origin"
NO_COOKIE = "X-Session: cookie without the session cookie: no session to end"


def _pair(user: User, refresh: sessions.Refresh, cookie: bool = False) -> TokenPair:
    rt = runtime()
    now = rt.clock.now()
    token = issue_token(rt.settings, user.id, user.roles, user.permissions, now, refresh.session_id)
    return TokenPair(
        access_token=token,
        expires_in=rt.settings.jwt_ttl_seconds,
        refresh_token=None if cookie else refresh.token,
        refresh_expires_in=int((refresh.expires_at - now).total_seconds()),
    )


def _signed_in(
    call: Call, pair: TokenPair, refresh: sessions.Refresh, status: int = 200, **headers: str
) -> Response:
    """The pair as JSON; for a browser session, its refresh token in the cookie instead."""
    response = json_response(pair, status, headers)
    if session_cookie.wanted(call):
        session_cookie.set_on(response, refresh.token, pair.refresh_expires_in)
    return response


def _body_token(body: RefreshRequest) -> str:
    if body.refresh_token is None:
        raise InvalidInput.single("refresh_token", "is required without X-Session: cookie")
    return body.refresh_token


@api.post(
    "/api/auth/register",
    summary="Create an account and sign in",
    public=True,
    body=Register,
    response=Registered,
    status=201,
    headers=(session_cookie.HEADER,),
    answers=(409,),
)
async def register(call: Call, body: Register) -> Response:
    rt = runtime()
    check_config(rt.settings)  # before the account is written: it must get its token
    now = rt.clock.now()
    async with rt.database.transaction() as conn:
        user = await accounts.register(conn, body, now)
        refresh = await sessions.start(conn, user.id, now, rt.settings)
    pair = _pair(user, refresh, session_cookie.wanted(call))
    registered = Registered(user=user, **pair.model_dump())
    return _signed_in(call, registered, refresh, 201, Location="/api/auth/me")


@api.post(
    "/api/auth/login",
    summary="Sign in",
    public=True,
    body=Login,
    response=TokenPair,
    headers=(session_cookie.HEADER,),
    answers=(401, 429),
)
async def login(call: Call, body: Login) -> Response:
    rt = runtime()
    user = await accounts.log_in(
        rt.database, body.email, body.password, call.client_address, rt.clock.now(), rt.settings
    )
    async with rt.database.transaction() as conn:
        refresh = await sessions.start(conn, user.id, rt.clock.now(), rt.settings)
    return _signed_in(call, _pair(user, refresh, session_cookie.wanted(call)), refresh)


@api.post(
    "/api/auth/refresh",
    summary="Exchange a refresh token for the next access and refresh tokens",
    public=True,
    body=RefreshRequest,
    response=TokenPair,
    headers=(session_cookie.HEADER,),
    answers=((401, SIGNED_OUT), (403, CROSS_ORIGIN)),
)
async def refresh(call: Call, body: RefreshRequest) -> Response:
    rt = runtime()
    given = session_cookie.token(call) if session_cookie.wanted(call) else _body_token(body)
    rotated = await sessions.rotate(rt.database, given, rt.clock.now(), rt.settings)
    async with rt.database.transaction() as conn:
        user = await accounts.get_user(conn, rotated.user_id)
    pair = _pair(user, rotated.refresh, session_cookie.wanted(call))
    return _signed_in(call, pair, rotated.refresh)


@api.post(
    "/api/auth/logout",
    summary="End the refresh token's session (done already, or an unknown token: the same)",
    public=True,
    body=RefreshRequest,
    status=204,
    headers=(session_cookie.HEADER,),
    answers=((401, NO_COOKIE), (403, CROSS_ORIGIN)),
)
async def logout(call: Call, body: RefreshRequest) -> Response:
    rt = runtime()
    cookie = session_cookie.wanted(call)
    given = session_cookie.token(call) if cookie else _body_token(body)
    await sessions.end(rt.database, given, rt.clock.now())
    response = Response(status_code=204)
    if cookie:
        session_cookie.clear_on(response)
    return response


@api.post(
    "/api/auth/password",
    summary="Change the password: ends every other session, renews this one",
    permission="tasks:write",
    body=PasswordChange,
    response=TokenPair,
    headers=(session_cookie.HEADER,),
    answers=((403, "Wrong current_password, or the token lacks tasks:write"), 429),
)
async def change_password(call: Call, body: PasswordChange) -> Response:
    rt = runtime()
    user, refresh = await accounts.change_password(
        rt.database, call.user, body, call.client_address, rt.clock.now(), rt.settings
    )
    return _signed_in(call, _pair(user, refresh, session_cookie.wanted(call)), refresh)


@api.get("/api/auth/me", summary="The signed-in account", permission="tasks:read", response=User)
async def me(call: Call) -> Response:
    async with runtime().database.transaction() as conn:
        return json_response(await accounts.get_user(conn, call.user.user_id))


@api.patch(
    "/api/auth/me",
    summary="Change the account's time zone",
    permission="tasks:write",
    body=UserPatch,
    response=User,
)
async def update_me(call: Call, body: UserPatch) -> Response:
    rt = runtime()
    async with rt.database.transaction() as conn:
        user = await accounts.set_timezone(conn, call.user.user_id, body.timezone, rt.clock.now())
    return json_response(user)


@api.delete(
    "/api/auth/me",
    summary="Delete the account and everything it holds (the password once more)",
    permission="tasks:write",
    body=AccountDeletion,
    status=204,
    answers=((403, "Wrong password, or the token lacks tasks:write"), 429),
)
async def delete_me(call: Call, body: AccountDeletion) -> Response:
    rt = runtime()
    user_id = call.user.user_id
    await account_deletion.delete_account(
        rt.database, user_id, body.password, call.client_address, rt.clock.now(), rt.settings
    )
    rt.accounts.forget(user_id)  # this process answers 401 for its tokens at once
    return Response(status_code=204)


@functions_framework.aio.http
async def auth(request: Request) -> Response:
    return await api(request)
