"""Exceptions the domain raises. `todo.problems` turns each into one HTTP answer."""

from __future__ import annotations

from typing import NamedTuple


class TodoError(Exception):
    """Base of every error a caller can be told about."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


class FieldError(NamedTuple):
    field: str
    message: str


class InvalidInput(TodoError):
    """Fields that fail validation. `errors` names each field."""

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        names = ", ".join(dict.fromkeys(e.field for e in errors))
        super().__init__(detail or f"Invalid field: {names}")
        self.errors = errors

    @classmethod
    def single(cls, field: str, message: str) -> InvalidInput:
        return cls([FieldError(field, message)], detail=f"Invalid field {field}: {message}")


class MalformedBody(TodoError):
    """The body is not JSON, or not the JSON shape the route takes."""


class UnsupportedMediaType(TodoError):
    pass


class BodyTooLarge(TodoError):
    pass


class HeadersTooLarge(TodoError):
    pass


class NotAuthenticated(TodoError):
    pass


class AccountGone(NotAuthenticated):
    """A valid token whose account has been deleted since it was issued."""

    def __init__(self) -> None:
        super().__init__("the token's account no longer exists")


class RefreshTokenReused(NotAuthenticated):
    """A spent refresh token came back: its session is revoked (todo/sessions.py)."""


class Forbidden(TodoError):
    pass


class WrongPassword(TodoError):
    """A signed-in caller re-entering their password for a sensitive change got it wrong."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is not this account's password")
        self.field = field


class NotFound(TodoError):
    pass


class TaskNotFound(NotFound):
    pass


class RouteNotFound(NotFound):
    pass


class MethodNotAllowed(TodoError):
    def __init__(self, allowed: list[str]) -> None:
        super().__init__(f"Allowed methods: {', '.join(allowed)}")
        self.allowed = allowed


class StaleVersion(TodoError):
    """If-Match named a version the task has moved past."""

    def __init__(self, detail: str, current_version: int) -> None:
        super().__init__(detail)
        self.current_version = current_version


class EmailTaken(TodoError):
    pass


class IdempotencyKeyReused(TodoError):
    """The same Idempotency-Key came back with a different request."""


class LoginThrottled(TodoError):
    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class DatabaseUnavailable(TodoError):
    pass


class TokenReviewUnavailable(TodoError):
    """The API server could not be asked whether an event sender's token is valid."""


class NotConfigured(TodoError):
    """The deployment lacks a setting this request needs (the detail is for the logs)."""
