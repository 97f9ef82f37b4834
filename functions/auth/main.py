"""auth: register, log in, refresh and end sessions, read and change the signed-in account."""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from todo import account_deletion, accounts, sessions
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
from todo.runtime import runtime
from todo.tokens import check_config, issue_token
from todo.web import Call, FunctionApi, json_response

api = FunctionApi("auth")

# A browser client will hold the refresh token in an HttpOnly cookie scoped to /api/auth:
# then these routes take it from the cookie when the body has no refresh_token. Making a
# required field optional breaks no client, so the body requires it until then.
SIGNED_OUT = (
    "Unknown, expired or revoked refresh token; /problems/refresh-token-reused when it was "
    "used already, which revokes its session"
)


def _pair(user: User, refresh: sessions.Refresh) -> TokenPair:
    rt = runtime()
    now = rt.clock.now()
    token = issue_token(rt.settings, user.id, user.roles, user.permissions, now, refresh.session_id)
    return TokenPair(
        access_token=token,
        expires_in=rt.settings.jwt_ttl_seconds,
        refresh_token=refresh.token,
        refresh_expires_in=int((refresh.expires_at - now).total_seconds()),
    )


@api.post(
    "/api/auth/register",
    summary="Create an account and sign in",
    public=True,
    body=Register,
    response=Registered,
    status=201,
    answers=(409,),
)
async def register(call: Call, body: Register) -> Response:
    rt = runtime()
    check_config(rt.settings)  # before the account is written: it must get its token
    now = rt.clock.now()
    async with rt.database.transaction() as conn:
        user = await accounts.register(conn, body, now)
        refresh = await sessions.start(conn, user.id, now, rt.settings)
    pair = _pair(user, refresh)
    return json_response(
        Registered(user=user, **pair.model_dump()), 201, {"Location": "/api/auth/me"}
    )


@api.post(
    "/api/auth/login",
    summary="Sign in",
    public=True,
    body=Login,
    response=TokenPair,
    answers=(401, 429),
)
async def login(call: Call, body: Login) -> Response:
    rt = runtime()
    user = await accounts.log_in(
        rt.database, body.email, body.password, call.client_address, rt.clock.now(), rt.settings
    )
    async with rt.database.transaction() as conn:
        refresh = await sessions.start(conn, user.id, rt.clock.now(), rt.settings)
    return json_response(_pair(user, refresh))


@api.post(
    "/api/auth/refresh",
    summary="Exchange a refresh token for the next access and refresh tokens",
    public=True,
    body=RefreshRequest,
    response=TokenPair,
    answers=((401, SIGNED_OUT),),
)
async def refresh(call: Call, body: RefreshRequest) -> Response:
    rt = runtime()
    rotated = await sessions.rotate(rt.database, body.refresh_token, rt.clock.now(), rt.settings)
    async with rt.database.transaction() as conn:
        user = await accounts.get_user(conn, rotated.user_id)
    return json_response(_pair(user, rotated.refresh))


@api.post(
    "/api/auth/logout",
    summary="End the refresh token's session (done already, or an unknown token: the same)",
    public=True,
    body=RefreshRequest,
    status=204,
)
async def logout(call: Call, body: RefreshRequest) -> Response:
    rt = runtime()
    await sessions.end(rt.database, body.refresh_token, rt.clock.now())
    return Response(status_code=204)


@api.post(
    "/api/auth/password",
    summary="Change the password: ends every other session, renews this one",
    permission="tasks:write",
    body=PasswordChange,
    response=TokenPair,
    answers=((403, "Wrong current_password, or the token lacks tasks:write"), 429),
)
async def change_password(call: Call, body: PasswordChange) -> Response:
    rt = runtime()
    user, refresh = await accounts.change_password(
        rt.database, call.user, body, call.client_address, rt.clock.now(), rt.settings
    )
    return json_response(_pair(user, refresh))


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
