"""Accounts: registration, login, the profile, sessions, and the tokens handed out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

from todo import common_passwords
from todo.models import Input, Output, Timezone

# Loose on purpose: the address is checked by using it, not by a grammar.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]


def _uncommon(value: str) -> str:
    if common_passwords.is_common(value):
        raise ValueError("is too common")
    return value


NewPassword = Annotated[
    str, StringConstraints(min_length=8, max_length=1024), AfterValidator(_uncommon)
]


class Register(Input):
    email: Email
    password: NewPassword
    timezone: Timezone = "UTC"


# What a password check takes: anything a password could have been.
GivenPassword = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
# A refresh token as issued: 32 random bytes, base64url without padding (todo/sessions.py).
RefreshTokenText = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]


class Login(Input):
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: GivenPassword


class RefreshRequest(Input):
    refresh_token: RefreshTokenText | None = Field(
        None,
        description="The refresh token as issued; left out by a browser that sends "
        "`X-Session: cookie`, whose token is in its cookie.",
    )


class PasswordChange(Input):
    current_password: GivenPassword
    new_password: NewPassword


class AccountDeletion(Input):
    password: GivenPassword = Field(description="The account's password, once more.")


class UserPatch(Input):
    timezone: Timezone


class User(Output):
    id: UUID
    email: str
    timezone: str
    roles: list[str]
    permissions: list[str]
    created_at: datetime


class TokenPair(Output):
    """What signing in (or refreshing) hands out: a short-lived access token for the API and
    a long-lived, single-use refresh token for the next pair."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str | None = Field(
        None,
        description="Single use: exchange it at /api/auth/refresh for the next pair. "
        "Null for a browser that sent `X-Session: cookie`: it is in the HttpOnly cookie.",
    )
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires.")


class Registered(TokenPair):
    user: User
