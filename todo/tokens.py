"""Access tokens: JWTs signed with an allow-listed algorithm and checked strictly."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from uuid import UUID

import jwt

from todo.errors import Forbidden, NotAuthenticated, NotConfigured
from todo.settings import Settings

REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]
# RFC 7519 makes these NumericDate values: JSON numbers, never strings.
DATE_CLAIMS = ("exp", "iat", "nbf")
# HMAC only: the functions both issue and check tokens with one shared secret.
ALLOWED_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
LEEWAY = timedelta(seconds=30)


class Principal(NamedTuple):
    user_id: UUID
    roles: frozenset[str]
    permissions: frozenset[str]
    expires_at: datetime | None
    # The sign-in (todo/sessions.py) the token was issued to; None for a service's call.
    session_id: UUID | None = None

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"this token lacks the {permission} permission")


MIN_SECRET_LENGTH = 32


def check_config(settings: Settings) -> None:
    """Raise NotConfigured saying what is wrong with the token settings, if anything."""
    _secret(settings)


def _secret(settings: Settings) -> str:
    if not settings.jwt_secret:
        raise NotConfigured("JWT_SECRET is not set")
    if len(settings.jwt_secret) < MIN_SECRET_LENGTH:
        raise NotConfigured(f"JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters")
    if settings.jwt_algorithm not in ALLOWED_ALGORITHMS:
        raise NotConfigured(f"JWT_ALGORITHM must be one of {sorted(ALLOWED_ALGORITHMS)}")
    return settings.jwt_secret


def issue_token(
    settings: Settings,
    user_id: UUID,
    roles: list[str],
    permissions: list[str],
    now: datetime,
    session_id: UUID | None = None,
) -> str:
    claims: dict[str, object] = {
        "sub": str(user_id),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.jwt_ttl_seconds)).timestamp()),
        "roles": roles,
        "permissions": permissions,
    }
    if session_id is not None:
        claims["sid"] = str(session_id)
    return jwt.encode(claims, _secret(settings), algorithm=settings.jwt_algorithm)


class _Verified(NamedTuple):
    principal: Principal
    issued_at: datetime


@functools.lru_cache(maxsize=4096)
def _verify_signed(
    token: str, secret: str, algorithm: str, audience: str, issuer: str
) -> _Verified:
    """Signature, algorithm, issuer, audience and claim shapes: the same for every use of a
    token, so checked once per token (a client sends the same one many times). Times
    depend on the clock and are checked on every use."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            options={"require": REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise NotAuthenticated(f"invalid token: {exc}") from exc
    for name in DATE_CLAIMS:
        if name in claims and not _is_number(claims[name]):
            raise NotAuthenticated(f"invalid token claims: {name} must be a number")
    try:
        principal = Principal(
            user_id=UUID(str(claims["sub"])),
            roles=frozenset(_strings(claims.get("roles", []))),
            permissions=frozenset(_strings(claims.get("permissions", []))),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            session_id=UUID(str(claims["sid"])) if "sid" in claims else None,
        )
        issued_at = datetime.fromtimestamp(int(claims["iat"]), UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise NotAuthenticated(f"invalid token claims: {exc}") from exc
    return _Verified(principal, issued_at)


def verify_token(settings: Settings, token: str, now: datetime) -> Principal:
    """Check signature, algorithm, issuer, audience and times; raise NotAuthenticated."""
    verified = _verify_signed(
        token,
        _secret(settings),
        settings.jwt_algorithm,
        settings.jwt_audience,
        settings.jwt_issuer,
    )
    expires_at = verified.principal.expires_at
    assert expires_at is not None
    if expires_at <= now - LEEWAY:
        raise NotAuthenticated("token expired")
    if verified.issued_at > now + LEEWAY:
        raise NotAuthenticated("token issued in the future")
    return verified.principal


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("roles and permissions must be lists of strings")
    return value
