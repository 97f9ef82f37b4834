"""The browser's session: its refresh token in a cookie no script can read (OWASP's session
management and token storage guidance), the access token in the page's memory only.

A client opts in with the `X-Session: cookie` header on register, login, refresh and
logout. Only then is the cookie set (and the body's refresh_token left out) or read; the
SDK and the command line keep the refresh token in bodies and never see a cookie.

The cookie is HttpOnly (no script reads it), Secure (never over plain HTTP, except to
localhost, which browsers count as secure), SameSite=Strict (no other site's page makes
the browser send it), and its Path is /api/auth, the one prefix refresh and logout share:
it is not sent with any other request. Reading it (refresh, logout) also needs the custom
header, which a cross-origin page cannot send without a CORS preflight this API never
allows for it, and an Origin, when the browser sends one, of this very host: two more
walls against cross-site request forgery should SameSite ever be relaxed or bypassed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.responses import Response

from todo.errors import Forbidden, InvalidInput, NotAuthenticated
from todo.web import Call

HEADER = "X-Session"
MODE = "cookie"
NAME = "todo_refresh"
PATH = "/api/auth"


def wanted(call: Call) -> bool:
    """Whether the caller asked for the cookie session; another value of the header is a
    mistake worth saying (422), not a silent fall back to body tokens."""
    value = call.header(HEADER)
    if value is None:
        return False
    if value != MODE:
        raise InvalidInput.single(HEADER, f"must be {MODE!r}, or left out")
    return True


def token(call: Call) -> str:
    """The refresh token from the cookie, for a request that `wanted` it, from a page of
    this origin."""
    _check_origin(call)
    value = call.request.cookies.get(NAME)
    if not value:
        raise NotAuthenticated("no session cookie: sign in again")
    return value


def set_on(response: Response, refresh_token: str, max_age: int) -> None:
    response.set_cookie(
        NAME,
        refresh_token,
        max_age=max_age,
        path=PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )


def clear_on(response: Response) -> None:
    response.delete_cookie(NAME, path=PATH, secure=True, httponly=True, samesite="strict")


def _check_origin(call: Call) -> None:
    origin = call.header("origin")
    if origin is None:  # not sent on some same-origin requests; SameSite still guards them
        return
    host = call.header("host")
    if origin == "null" or urlsplit(origin).netloc != host:
        raise Forbidden("the session cookie is read only for pages of this origin")
