"""Who delivered an event: Knative Eventing's sender identity (OIDC), checked here.

With Eventing's `authentication-oidc` feature on, a KafkaSource has a service account of
its own, and its dispatcher asks the API server for a token of that account for the sink's
audience (a TokenRequest, valid one hour, reused for 55 minutes) and sends it as
`Authorization: Bearer` with every delivery (eventing-kafka-broker 1.23,
data-plane/dispatcher/.../auth/TokenProvider.java and WebClientCloudEventSender.java).

The API server checks the token for us (a TokenReview, as kube-rbac-proxy and the metrics
endpoints of controllers do): signature, issuer, times, and that the account and its token
still exist. Checking signatures here would need `cryptography`, which pyjwt imports with
itself whenever installed: 50 ms on every function's cold start (docs/architecture.md).

A delivery passes when the API server authenticates its token for our audience and names
one of the sources that feed us: anyone else in the cluster can reach the route through
Kourier, and could get a token of their own account for our audience, so the account is
what tells a source from a stranger. The token's own claims, read unchecked, turn junk away
before any review, and a token the API server accepted is taken again without asking
until it expires.
"""

from __future__ import annotations

import hashlib
import ssl
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import jwt

from todo.errors import Forbidden, NotAuthenticated, NotConfigured, TokenReviewUnavailable
from todo.settings import Settings

LEEWAY = timedelta(seconds=30)
# One review per source per token: a source reuses its token for 55 minutes. Bounded, so
# that many valid tokens (a source restarting often) cannot grow the process.
REVIEWED_AT_MOST = timedelta(hours=1)
REVIEWS_KEPT = 32
REVIEW_TIMEOUT_SECONDS = 5.0


class _Claims(NamedTuple):
    subject: str
    audiences: tuple[str, ...]
    expires_at: datetime


class SenderIdentity:
    """The check of one process: its settings and the tokens the API server accepted."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # sha256 of a reviewed token -> until when it is taken without a review, oldest first
        self._reviewed: dict[bytes, datetime] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.settings.event_audience)

    async def verify(self, token: str | None, now: datetime) -> str:
        """The sender's account; NotAuthenticated or Forbidden saying why not."""
        settings = self.settings
        audience = settings.event_audience or ""
        if not settings.event_senders:
            raise NotConfigured("EVENT_AUDIENCE is set but EVENT_SENDERS names no source")
        if token is None:
            raise NotAuthenticated(
                "an event delivery needs the sender's token (Knative Eventing OIDC): "
                "Authorization: Bearer <token>"
            )
        claims = _unchecked_claims(token)
        if audience not in claims.audiences:
            raise NotAuthenticated(f"the sender's token is not for this audience ({audience})")
        if claims.expires_at <= now - LEEWAY:
            raise NotAuthenticated("the sender's token has expired")
        if claims.subject not in settings.event_senders:
            raise Forbidden(f"{claims.subject} is not a source that delivers to this function")
        digest = hashlib.sha256(token.encode()).digest()
        reviewed_until = self._reviewed.get(digest)
        if reviewed_until is None or reviewed_until <= now:
            await self._review(token, claims.subject)
            self._remember(digest, min(claims.expires_at, now + REVIEWED_AT_MOST), now)
        return claims.subject

    async def _review(self, token: str, subject: str) -> None:
        """Ask the API server (a TokenReview) whether the token is what its claims say."""
        status = await self._token_review(token)
        if status.get("authenticated") is not True:
            error = status.get("error") or "no reason given"
            raise NotAuthenticated(f"the API server does not authenticate the token: {error}")
        # An API server that ignored spec.audiences answers none: the token would then be
        # valid for the API server itself, not necessarily for us (TokenReviewStatus docs).
        if self.settings.event_audience not in (status.get("audiences") or []):
            raise NotAuthenticated("the API server does not confirm the token's audience")
        username = (status.get("user") or {}).get("username")
        if username != subject:
            raise Forbidden(f"the API server names {username}, not the token's {subject}")

    async def _token_review(self, token: str) -> dict[str, Any]:
        import httpx  # only for a delivery's first token: most processes never review one

        settings = self.settings
        review = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token, "audiences": [settings.event_audience]},
        }
        try:
            headers = {"accept": "application/json"}
            if settings.event_review_token_file is not None:
                # Read on every review: the kubelet rotates the projected token.
                own_token = settings.event_review_token_file.read_text().strip()
                headers["authorization"] = f"Bearer {own_token}"
            verify: ssl.SSLContext | bool = True
            if settings.event_review_ca_file is not None:
                verify = ssl.create_default_context(cafile=str(settings.event_review_ca_file))
            async with httpx.AsyncClient(verify=verify, timeout=REVIEW_TIMEOUT_SECONDS) as client:
                response = await client.post(
                    settings.event_review_url, json=review, headers=headers
                )
                response.raise_for_status()
                answer = response.json()
        except (OSError, httpx.HTTPError, ValueError) as exc:
            # 503: the source tries again. A 401 or 403 here is ours (the pod's token, the
            # ClusterRole), not the sender's.
            raise TokenReviewUnavailable(f"{settings.event_review_url}: {exc}") from exc
        status = answer.get("status") if isinstance(answer, dict) else None
        if not isinstance(status, dict):
            raise TokenReviewUnavailable(f"{settings.event_review_url}: no status in its answer")
        return status

    def _remember(self, digest: bytes, until: datetime, now: datetime) -> None:
        for known, known_until in list(self._reviewed.items()):
            if known_until <= now:
                del self._reviewed[known]
        while len(self._reviewed) >= REVIEWS_KEPT:
            del self._reviewed[next(iter(self._reviewed))]
        self._reviewed[digest] = until


def _unchecked_claims(token: str) -> _Claims:
    """The claims as the token states them, signature unchecked: enough to refuse a token
    that could never pass, without asking the API server."""
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise NotAuthenticated(f"the sender's token is not a JWT: {exc}") from None
    audiences = claims.get("aud")
    if isinstance(audiences, str):
        audiences = [audiences]
    subject, expires = claims.get("sub"), claims.get("exp")
    if not isinstance(subject, str) or not isinstance(audiences, list):
        raise NotAuthenticated("the sender's token names no subject or audience")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise NotAuthenticated("the sender's token has no expiry")
    try:
        expires_at = datetime.fromtimestamp(expires, UTC)
    except (ValueError, OverflowError, OSError):
        raise NotAuthenticated("the sender's token has no usable expiry") from None
    return _Claims(subject, tuple(str(a) for a in audiences), expires_at)
