"""auth: register, log in, read and change the signed-in account."""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from todo import accounts
from todo.account_models import AccessToken, Login, Register, Registered, User, UserPatch
from todo.runtime import runtime
from todo.tokens import check_config, issue_token
from todo.web import Call, FunctionApi, json_response

api = FunctionApi("auth")


def _token(user: User) -> AccessToken:
    rt = runtime()
    token = issue_token(rt.settings, user.id, user.roles, user.permissions, rt.clock.now())
    return AccessToken(access_token=token, expires_in=rt.settings.jwt_ttl_seconds)


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
    async with rt.database.transaction() as conn:
        user = await accounts.register(conn, body, rt.clock.now())
    token = _token(user)
    return json_response(
        Registered(user=user, **token.model_dump()), 201, {"Location": "/api/auth/me"}
    )


@api.post(
    "/api/auth/login",
    summary="Sign in",
    public=True,
    body=Login,
    response=AccessToken,
    answers=(401, 429),
)
async def login(call: Call, body: Login) -> Response:
    rt = runtime()
    user = await accounts.log_in(
        rt.database, body.email, body.password, call.client_address, rt.clock.now(), rt.settings
    )
    return json_response(_token(user))


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


@functions_framework.aio.http
async def auth(request: Request) -> Response:
    return await api(request)
