"""Who delivered an event: Knative Eventing's sender identity (OIDC), checked here.

With Eventing's `authentication-oidc` feature on, a KafkaSource has a service account of
its own, and its dispatcher asks the API server for a token of that account for the sink's
audience (a TokenRequest, valid one hour, reused for 55 minutes) and sends it as
`Authorization: Bearer` with every delivery (eventing-kafka-broker 1.23,
data-plane/dispatcher/.../auth/TokenProvider.java and WebClientCloudEventSender.java). The
token is a service-account JWT, signed by the cluster's service-account issuer, whose
public keys kube-apiserver serves at /openid/v1/jwks.

A delivery passes when its token is signed by one of those keys, names the issuer and our
audience, is within its times, and its subject is one of the sources that feed us: anyone
else in the cluster can reach the route through Kourier, and could get a token of their own
account for our audience, so the subject is what tells a source from a stranger.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import jwt

from todo.errors import Forbidden, NotAuthenticated, NotConfigured, SenderKeysUnavailable
from todo.settings import Settings

# What kube-apiserver signs service-account tokens with: RSA or ECDSA keys (its
# --service-account-key-file); never a shared secret, never `none`.
ALLOWED_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]
LEEWAY = timedelta(seconds=30)
# The key set is fetched on the first delivery, again when a token names a key not in it (the
# issuer rotated its keys), at most this often, and again when this old.
KEYS_REFETCH_AFTER = timedelta(seconds=30)
KEYS_MAX_AGE = timedelta(hours=1)
FETCH_TIMEOUT_SECONDS = 5.0


class _Claims(NamedTuple):
    subject: str
    expires_at: datetime
    not_before: datetime | None


class SenderIdentity:
    """The check of one process: its settings and the issuer's keys, fetched when needed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: datetime | None = None  # the last fetch that succeeded
        self._tried_at: datetime | None = None  # the last fetch, whatever came of it
        self._fetching = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.settings.event_audience)

    async def verify(self, token: str | None, now: datetime) -> str:
        """The sender's subject; NotAuthenticated or Forbidden saying why not."""
        if not self.settings.event_senders:
            raise NotConfigured("EVENT_AUDIENCE is set but EVENT_SENDERS names no source")
        if token is None:
            raise NotAuthenticated(
                "an event delivery needs the sender's token (Knative Eventing OIDC): "
                "Authorization: Bearer <token>"
            )
        key = await self._key_for(token, now)
        claims = _verify_signed(
            token, key, self.settings.event_audience or "", self.settings.event_issuer
        )
        if claims.expires_at <= now - LEEWAY:
            raise NotAuthenticated("the sender's token has expired")
        if claims.not_before is not None and claims.not_before > now + LEEWAY:
            raise NotAuthenticated("the sender's token is not valid yet")
        if claims.subject not in self.settings.event_senders:
            raise Forbidden(f"{claims.subject} is not a source that delivers to this function")
        return claims.subject

    async def _key_for(self, token: str, now: datetime) -> jwt.PyJWK:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise NotAuthenticated(f"the sender's token is not a JWT: {exc}") from None
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise NotAuthenticated("the sender's token names no signing key (kid)")
        if self._keys_due(kid, now):
            async with self._fetching:
                if self._keys_due(kid, now):
                    try:
                        await self._fetch(now)
                    except SenderKeysUnavailable:
                        if kid not in self._keys:
                            raise  # 503: the source tries again
        key = self._keys.get(kid)
        if key is None and self._fetched_at is None:
            raise SenderKeysUnavailable(f"no keys fetched yet from {self.settings.event_jwks_url}")
        if key is None:
            raise NotAuthenticated(
                f"the sender's token is signed by key {kid!r}, which the issuer does not publish"
            )
        return key

    def _keys_due(self, kid: str, now: datetime) -> bool:
        """Fetch when a token names a key not seen yet or the keys are old, but never more
        often than KEYS_REFETCH_AFTER, so neither made-up key ids nor an API server that is
        down make every delivery wait on a fetch."""
        if self._tried_at is not None and now - self._tried_at < KEYS_REFETCH_AFTER:
            return False
        return (
            self._fetched_at is None
            or kid not in self._keys
            or now - self._fetched_at >= KEYS_MAX_AGE
        )

    async def _fetch(self, now: datetime) -> None:
        import httpx  # only when keys are due: most processes never verify a sender

        settings = self.settings
        self._tried_at = now
        try:
            headers = {"accept": "application/json"}
            if settings.event_jwks_token_file is not None:
                # Read on every fetch: the kubelet rotates the projected token.
                own_token = settings.event_jwks_token_file.read_text().strip()
                headers["authorization"] = f"Bearer {own_token}"
            verify: ssl.SSLContext | bool = True
            if settings.event_jwks_ca_file is not None:
                verify = ssl.create_default_context(cafile=str(settings.event_jwks_ca_file))
            async with httpx.AsyncClient(verify=verify, timeout=FETCH_TIMEOUT_SECONDS) as client:
                response = await client.get(settings.event_jwks_url, headers=headers)
                response.raise_for_status()
                key_set = jwt.PyJWKSet.from_dict(response.json())
        except (OSError, httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            raise SenderKeysUnavailable(f"{settings.event_jwks_url}: {exc}") from exc
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._fetched_at = now


@functools.lru_cache(maxsize=256)
def _verify_signed(token: str, key: jwt.PyJWK, audience: str, issuer: str) -> _Claims:
    """Signature, algorithm, issuer, audience and claim shapes, once per token (a source
    sends the same one for most of an hour); times are checked on every use."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=ALLOWED_ALGORITHMS,
            audience=audience,
            issuer=issuer,
            options={
                "require": REQUIRED_CLAIMS,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        not_before = claims.get("nbf")
        return _Claims(
            subject=str(claims["sub"]),
            expires_at=_instant(claims["exp"]),
            not_before=None if not_before is None else _instant(not_before),
        )
    except jwt.PyJWTError as exc:
        raise NotAuthenticated(f"the sender's token is not valid: {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise NotAuthenticated(f"the sender's token has malformed claims: {exc}") from None


def _instant(value: object) -> datetime:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError("a time claim must be a number")
    return datetime.fromtimestamp(value, UTC)
