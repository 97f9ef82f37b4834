"""Access tokens: JWTs signed with an allow-listed algorithm and checked strictly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import jwt

from todo.errors import Forbidden, NotAuthenticated
from todo.settings import Settings

REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]
# HMAC only: the functions both issue and check tokens with one shared secret.
ALLOWED_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
LEEWAY = timedelta(seconds=30)


@dataclass(frozen=True)
class Principal:
    user_id: UUID
    roles: frozenset[str]
    permissions: frozenset[str]
    expires_at: datetime | None

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"this token lacks the {permission} permission")


def _secret(settings: Settings) -> str:
    if not settings.jwt_secret:
        raise RuntimeError("JWT_SECRET is not set")
    if settings.jwt_algorithm not in ALLOWED_ALGORITHMS:
        raise RuntimeError(f"JWT_ALGORITHM must be one of {sorted(ALLOWED_ALGORITHMS)}")
    return settings.jwt_secret


def issue_token(
    settings: Settings,
    user_id: UUID,
    roles: list[str],
    permissions: list[str],
    now: datetime,
) -> str:
    claims = {
        "sub": str(user_id),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.jwt_ttl_seconds)).timestamp()),
        "roles": roles,
        "permissions": permissions,
    }
    return jwt.encode(claims, _secret(settings), algorithm=settings.jwt_algorithm)


def verify_token(settings: Settings, token: str, now: datetime) -> Principal:
    """Check signature, algorithm, issuer, audience and times; raise NotAuthenticated."""
    try:
        claims = jwt.decode(
            token,
            _secret(settings),
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            # Times are checked below against the injected clock, not the wall clock.
            options={"require": REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise NotAuthenticated(f"invalid token: {exc}") from exc
    try:
        expires_at = datetime.fromtimestamp(int(claims["exp"]), now.tzinfo)
        issued_at = datetime.fromtimestamp(int(claims["iat"]), now.tzinfo)
        user_id = UUID(str(claims["sub"]))
        roles = frozenset(_strings(claims.get("roles", [])))
        permissions = frozenset(_strings(claims.get("permissions", [])))
    except (TypeError, ValueError, OverflowError) as exc:
        raise NotAuthenticated(f"invalid token claims: {exc}") from exc
    if expires_at <= now - LEEWAY:
        raise NotAuthenticated("token expired")
    if issued_at > now + LEEWAY:
        raise NotAuthenticated("token issued in the future")
    return Principal(user_id, roles, permissions, expires_at)


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("roles and permissions must be lists of strings")
    return value
