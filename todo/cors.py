"""Requests from pages on other origins (CORS), for the origins CORS_ALLOWED_ORIGINS names.

Unset, the API is same-origin only: no response carries a CORS header and a preflight is
answered like any OPTIONS request (405), so a browser keeps other origins' pages out.

It lives in `FunctionApi`, not in an ingress middleware, so that `todo dev` and the cluster
answer alike. Every function answers the preflight of every path of the public API, with the
methods the API document gives that path: the ingress sends OPTIONS /api/tasks/{id} to
update_task, while GET on that path is query_tasks', so no one function's routes would do.
Only the document's paths answer CORS: sidecar routes (event deliveries, the cron binding),
probes and metrics never do.

No Access-Control-Allow-Credentials: a page sends the bearer token itself, which needs no
credentials mode. The web app's refresh cookie belongs to the API's own origin (the app and
the API share it through the ingress); no other origin should make a browser send it.
"""

from __future__ import annotations

import functools
import json

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response

from todo.routing import Router
from todo.runtime import runtime

# The request headers the API reads (the safelisted ones need no mention).
ALLOWED_HEADERS = ("Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Request-Id")
# The response headers a page may read beyond the safelisted ones.
EXPOSED_HEADERS = (
    "Allow",
    "ETag",
    "Idempotent-Replayed",
    "Location",
    "Retry-After",
    "WWW-Authenticate",
    "X-Request-Id",
)
# How long a browser may reuse a preflight's answer: Chromium's cap (Firefox takes a day).
MAX_AGE_SECONDS = 7200


def is_preflight(method: str, path: str, headers: Headers) -> bool:
    """A preflight this API answers: OPTIONS naming the method to come, from an allowed
    origin, on a path of the API."""
    return (
        method == "OPTIONS"
        and "access-control-request-method" in headers
        and _allowed_origin(headers) is not None
        and bool(api_methods(path))
    )


def preflight(path: str, headers: Headers) -> Response:
    """The answer to a preflight `is_preflight` accepts. The browser checks the method and
    headers it asked for against these lists itself."""
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": headers["origin"],
            "Access-Control-Allow-Methods": ", ".join(api_methods(path)),
            "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
            "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
            "Vary": "Origin",
        },
    )


def allow(path: str, headers: Headers, response_headers: MutableHeaders) -> None:
    """Let a page of an allowed origin read the answer to a request on a path of the API
    (errors included). Once any origin is allowed, such an answer varies by Origin."""
    if not runtime().settings.cors_allowed_origins or not api_methods(path):
        return
    response_headers.add_vary_header("Origin")
    origin = _allowed_origin(headers)
    if origin is not None:
        response_headers["Access-Control-Allow-Origin"] = origin
        response_headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)


def api_methods(path: str) -> list[str]:
    """The methods the public API takes on `path`; none for a path it does not have."""
    return _api_paths().methods(path)


def _allowed_origin(headers: Headers) -> str | None:
    origin = headers.get("origin")
    return origin if origin in runtime().settings.cors_allowed_origins else None


@functools.cache
def _api_paths() -> Router[str]:
    # Imported here: todo.openapi imports todo.web, which imports this module.
    from todo import openapi

    document = json.loads(openapi.published_document())
    return Router(
        (method.upper(), path, path)
        for path, operations in document["paths"].items()
        for method in operations
    )
