"""Accounts: registration, login, the profile, and the tokens handed out."""

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


class Login(Input):
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class UserPatch(Input):
    timezone: Timezone


class User(Output):
    id: UUID
    email: str
    timezone: str
    roles: list[str]
    permissions: list[str]
    created_at: datetime


class AccessToken(Output):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class Registered(AccessToken):
    user: User
