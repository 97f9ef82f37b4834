"""RFC 7807 problem responses: every error a caller sees is rendered here, and only here."""

from __future__ import annotations

import json
import logging
from typing import Any, NamedTuple

from starlette.responses import Response

from todo import errors

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Kind(NamedTuple):
    status: int
    slug: str
    title: str


# Each domain error's HTTP meaning. The slug is the stable `type` clients can branch on.
KINDS: dict[type[errors.TodoError], Kind] = {
    errors.InvalidInput: Kind(422, "validation-error", "Invalid request"),
    errors.MalformedBody: Kind(400, "malformed-body", "Malformed request body"),
    errors.UnsupportedMediaType: Kind(415, "unsupported-media-type", "Unsupported media type"),
    errors.BodyTooLarge: Kind(413, "body-too-large", "Request body too large"),
    errors.HeadersTooLarge: Kind(431, "headers-too-large", "Request headers too large"),
    errors.NotAuthenticated: Kind(401, "unauthenticated", "Authentication required"),
    errors.RefreshTokenReused: Kind(
        401, "refresh-token-reused", "Refresh token already used; the session is revoked"
    ),
    errors.Forbidden: Kind(403, "forbidden", "Permission denied"),
    errors.WrongPassword: Kind(403, "wrong-password", "Wrong password"),
    errors.NotFound: Kind(404, "not-found", "Not found"),
    errors.MethodNotAllowed: Kind(405, "method-not-allowed", "Method not allowed"),
    errors.StaleVersion: Kind(412, "stale-version", "The resource has changed"),
    errors.EmailTaken: Kind(409, "email-taken", "Email already registered"),
    errors.IdempotencyKeyReused: Kind(
        422, "idempotency-key-reused", "Idempotency-Key reused with a different request"
    ),
    errors.LoginThrottled: Kind(429, "login-throttled", "Too many failed logins"),
    errors.DatabaseUnavailable: Kind(503, "database-unavailable", "Database unavailable"),
    errors.NotConfigured: Kind(503, "not-configured", "The service is not configured"),
    errors.TokenReviewUnavailable: Kind(
        503, "token-review-unavailable", "The event sender's token cannot be reviewed"
    ),
}
INTERNAL = Kind(500, "internal-error", "Internal error")


def type_uri(slug: str) -> str:
    return f"/problems/{slug}"


def kind_of(exc: BaseException) -> Kind:
    for cls in type(exc).__mro__:
        if cls in KINDS:
            return KINDS[cls]
    return INTERNAL


def problem_response(exc: BaseException, instance: str | None = None) -> Response:
    kind = kind_of(exc)
    body: dict[str, Any] = {"type": type_uri(kind.slug), "title": kind.title, "status": kind.status}
    headers: dict[str, str] = {}
    # A database error's or a missing setting's text is for the logs, not the caller.
    public_detail = not isinstance(exc, errors.DatabaseUnavailable | errors.NotConfigured)
    if isinstance(exc, errors.TodoError) and public_detail and exc.detail:
        body["detail"] = exc.detail
    if instance:
        body["instance"] = instance
    if isinstance(exc, errors.InvalidInput):
        body["errors"] = [{"field": e.field, "message": e.message} for e in exc.errors]
    if isinstance(exc, errors.WrongPassword):
        body["errors"] = [{"field": exc.field, "message": "is not this account's password"}]
    if isinstance(exc, errors.StaleVersion):
        body["current_version"] = exc.current_version
        headers["ETag"] = f'"{exc.current_version}"'
    if isinstance(exc, errors.MethodNotAllowed):
        headers["Allow"] = ", ".join(exc.allowed)
    if isinstance(exc, errors.LoginThrottled):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.NotAuthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="todo"'
    if isinstance(exc, errors.DatabaseUnavailable):
        headers["Retry-After"] = "1"
        log.warning("database unavailable", extra={"error": str(exc)})
    elif isinstance(exc, errors.NotConfigured):
        log.error("not configured: %s", exc.detail)
    elif kind is INTERNAL:
        log.error("unhandled error", exc_info=exc)
    return Response(
        json.dumps(body), status_code=kind.status, media_type=PROBLEM_JSON, headers=headers
    )
