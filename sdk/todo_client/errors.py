"""The API's problem+json answers as exceptions, chosen by the problem's stable `type`.

Branch on the class (`except StaleVersion`), never on the status: two problems share 401,
422 and 503, and the `type` is what the API promises to keep.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, ClassVar

import httpx

from todo_client.models import FieldError, Problem, decode


class TodoError(Exception):
    """An error answer from the API. `problem` holds it whole."""

    slug: ClassVar[str | None] = None

    def __init__(self, problem: Problem, response: httpx.Response | None = None) -> None:
        super().__init__(f"{problem.status} {problem.title}: {problem.detail or problem.type}")
        self.problem = problem
        self.status = problem.status
        self.type = problem.type
        self.title = problem.title
        self.detail = problem.detail
        self.response = response


class Unauthenticated(TodoError):
    """No valid token, and a refresh did not give one: sign in again."""

    slug = "unauthenticated"


class RefreshTokenReused(Unauthenticated):
    """A spent refresh token came back: the server revoked its whole session."""

    slug = "refresh-token-reused"


class Forbidden(TodoError):
    slug = "forbidden"


class WrongPassword(Forbidden):
    slug = "wrong-password"


class NotFound(TodoError):
    slug = "not-found"


class Conflict(TodoError):
    """Registering an email that exists."""

    slug = "email-taken"


class StaleVersion(TodoError):
    """Someone changed the task since the version sent: `current_version` is theirs."""

    slug = "stale-version"

    def __init__(self, problem: Problem, response: httpx.Response | None = None) -> None:
        super().__init__(problem, response)
        body = _body(response) if response is not None else {}
        self.current_version: int | None = body.get("current_version")


class ValidationError(TodoError):
    """Invalid fields: `fields` names each one, `errors` says what is wrong with it."""

    slug = "validation-error"

    def __init__(self, problem: Problem, response: httpx.Response | None = None) -> None:
        super().__init__(problem, response)
        self.errors: list[FieldError] = problem.errors
        self.fields = list(dict.fromkeys(e.field for e in problem.errors))


class IdempotencyKeyReused(ValidationError):
    """The same Idempotency-Key came with a different request."""

    slug = "idempotency-key-reused"


class RateLimited(TodoError):
    """Too many attempts: wait `retry_after` seconds."""

    slug = "login-throttled"

    def __init__(self, problem: Problem, response: httpx.Response | None = None) -> None:
        super().__init__(problem, response)
        header = response.headers.get("retry-after") if response is not None else None
        self.retry_after = retry_after_seconds(header)


class Unavailable(TodoError):
    """The service cannot answer now (database down, or not configured); retry later."""

    slug = "database-unavailable"


def _subclasses(cls: type[TodoError]) -> list[type[TodoError]]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _subclasses(child))]


BY_TYPE: dict[str, type[TodoError]] = {
    f"/problems/{cls.slug}": cls for cls in _subclasses(TodoError) if cls.slug
}


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def error_from_response(response: httpx.Response) -> TodoError:
    """The exception for an error answer; one that is not problem+json (a proxy's 502, say)
    becomes a plain `TodoError` with the status."""
    body = _body(response)
    if isinstance(body.get("type"), str) and isinstance(body.get("title"), str):
        problem: Problem = decode(Problem, {"status": response.status_code, **body})
    else:
        problem = Problem(
            type="about:blank", title=response.reason_phrase, status=response.status_code
        )
    return BY_TYPE.get(problem.type, TodoError)(problem, response)


def retry_after_seconds(header: str | None) -> float | None:
    """Retry-After as seconds to wait: a number of seconds, or an HTTP date."""
    if header is None:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
