"""Event deliveries from Knative Eventing sources carry their sender's OIDC token, and the
event routes take only the sources that feed them (todo/sender_identity.py).

The tokens are real service-account-shaped JWTs, signed with an RSA key made here; its
public half is served as a JWKS from a loopback server, as kube-apiserver serves
/openid/v1/jwks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import Account, rewire
from tests.test_event_functions import count, post, task_event
from todo.clock import ManualClock
from todo.runtime import Runtime
from todo_cli.dev import Stack

ISSUER = "https://kubernetes.default.svc.cluster.local"
AUDIENCE = "todo-events"
SOURCE = "system:serviceaccount:todo:process-event-task-events-oidc-sources.knative.dev-kafkasource"
STRANGER = "system:serviceaccount:todo:default"
KID = "cluster-key-1"
OWN_TOKEN = "the-pods-own-service-account-token"


class Issuer:
    """The cluster's service-account issuer: a signing key and its published JWKS."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published: list[dict[str, Any]] = [self.jwk(self.key, KID)]
        self.requests: list[dict[str, str]] = []

    @staticmethod
    def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        return {**public, "kid": kid, "use": "sig", "alg": "RS256"}

    def token(
        self,
        now: datetime,
        *,
        sub: str = SOURCE,
        aud: str = AUDIENCE,
        iss: str = ISSUER,
        ttl: timedelta = timedelta(hours=1),
        key: rsa.RSAPrivateKey | None = None,
        kid: str = KID,
    ) -> str:
        """A token as the API server's TokenRequest issues it for a source's account."""
        claims = {
            "aud": [aud],
            "exp": int((now + ttl).timestamp()),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "iss": iss,
            "sub": sub,
            "kubernetes.io": {"namespace": "todo", "serviceaccount": {"name": sub.split(":")[-1]}},
        }
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def issuer() -> Iterator[tuple[Issuer, str]]:
    state = Issuer()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(dict(self.headers))
            body = json.dumps({"keys": state.published}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_port}/openid/v1/jwks"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Deliveries:
    """Task events delivered to the event functions, configured as the kafkasource overlay
    configures them, and what they left in the database."""

    stack: Stack
    rt: Runtime
    clock: ManualClock
    issuer: Issuer
    account: Account
    task: dict[str, Any]

    def token(self, **claims: Any) -> str:
        return self.issuer.token(self.clock.now(), **claims)

    async def send(
        self, token: str | None, fn: str = "process_event", **headers: str
    ) -> tuple[int, Any, str]:
        event = task_event(self.account, self.task)
        headers["content-type"] = "application/cloudevents+json"
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        status, body = await post(self.stack, fn, "/events", json.dumps(event).encode(), headers)
        return status, body, event["id"]

    async def written(self, event_id: str) -> int:
        """Rows any consumer wrote for the event: audit, processed marks, dead letters."""
        rt = self.rt
        return (
            await count(rt, "select count(*) from audit_log where event_id = $1", event_id)
            + await count(rt, "select count(*) from processed_events where event_id = $1", event_id)
            + await count(
                rt,
                "select count(*) from dead_letters where event_id = $1 or strpos(raw, $1) > 0",
                event_id,
            )
        )


@pytest.fixture
async def deliveries(
    stack: Stack,
    rt: Runtime,
    clock: ManualClock,
    issuer: tuple[Issuer, str],
    tmp_path: Path,
    create_task: Any,
    alice: Account,
) -> Deliveries:
    task = await create_task(alice, title="delivered")
    own_token = tmp_path / "token"
    own_token.write_text(OWN_TOKEN + "\n")
    configured = rewire(
        rt,
        event_audience=AUDIENCE,
        event_senders=(SOURCE, "system:serviceaccount:todo:notify-reminder-events-oidc-x"),
        event_issuer=ISSUER,
        event_jwks_url=issuer[1],
        event_jwks_token_file=own_token,
        app_api_token="from-dapr",
    )
    return Deliveries(stack, configured, clock, issuer[0], alice, task)


async def test_a_delivery_from_a_source_that_feeds_the_function_is_taken(
    deliveries: Deliveries,
) -> None:
    status, body, event_id = await deliveries.send(deliveries.token())
    assert (status, body) == (200, {"status": "SUCCESS"})
    assert await deliveries.written(event_id) >= 1
    # The keys were fetched with the pod's own token, once, and serve the next delivery too.
    requests = deliveries.issuer.requests
    assert [r.get("authorization") for r in requests] == [f"Bearer {OWN_TOKEN}"]
    assert (await deliveries.send(deliveries.token()))[0] == 200
    assert len(requests) == 1


def _refusals(issuer: Issuer, now: datetime) -> list[tuple[str, str | None, int, str]]:
    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return [
        ("no token", None, 401, "needs the sender's token"),
        ("not a JWT", "not.a-jwt", 401, "not a JWT"),
        ("another audience", issuer.token(now, aud="todo-api"), 401, "audience"),
        ("another issuer", issuer.token(now, iss="https://evil.example"), 401, "issuer"),
        ("another account", issuer.token(now, sub=STRANGER), 403, STRANGER),
        ("expired", issuer.token(now - timedelta(hours=2)), 401, "expired"),
        ("another signer", issuer.token(now, key=stranger_key), 401, "Signature"),
        ("an unpublished key", issuer.token(now, key=stranger_key, kid="k2"), 401, "'k2'"),
        ("no key id", issuer.token(now).replace(_header(KID), _header(None)), 401, "kid"),
        ("alg none", _unsigned(now), 401, "alg value is not allowed"),
        ("HMAC with the public key", _hmac_signed(issuer, now), 401, "alg value is not allowed"),
    ]


def _header(kid: str | None) -> str:
    """A token's first part, as jwt.encode writes it for an RS256 token."""
    fields = {"alg": "RS256", "kid": kid, "typ": "JWT"} if kid else {"alg": "RS256", "typ": "JWT"}
    return base64url(json.dumps(fields, separators=(",", ":"), sort_keys=True).encode())


def base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unsigned(now: datetime) -> str:
    claims = {"sub": SOURCE, "aud": AUDIENCE, "iss": ISSUER, "exp": int(now.timestamp()) + 600}
    head = base64url(json.dumps({"alg": "none", "kid": KID}).encode())
    return f"{head}.{base64url(json.dumps(claims).encode())}."


def _hmac_signed(issuer: Issuer, now: datetime) -> str:
    """The old confusion: an HMAC token keyed with the issuer's public key, which anyone has."""
    claims = {"sub": SOURCE, "aud": AUDIENCE, "iss": ISSUER, "exp": int(now.timestamp()) + 600}
    head = base64url(json.dumps({"alg": "HS256", "kid": KID, "typ": "JWT"}).encode())
    body = base64url(json.dumps(claims).encode())
    public = json.dumps(issuer.published[0]).encode()
    signature = hmac.new(public, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64url(signature)}"


@pytest.mark.parametrize("fn", ["process_event", "notify"])
async def test_a_delivery_without_a_good_token_is_refused_and_writes_nothing(
    deliveries: Deliveries, fn: str
) -> None:
    for case, token, expected, reason in _refusals(deliveries.issuer, deliveries.clock.now()):
        status, body, event_id = await deliveries.send(token, fn)
        assert status == expected, case
        assert body["status"] == expected, case
        assert body["type"] == (
            "/problems/forbidden" if expected == 403 else "/problems/unauthenticated"
        )
        assert reason.lower() in body["detail"].lower(), (case, body["detail"])
        assert await deliveries.written(event_id) == 0, case


async def test_a_users_token_is_no_senders_token(deliveries: Deliveries) -> None:
    status, _, event_id = await deliveries.send(deliveries.account.token, "notify")
    assert status == 401
    assert await deliveries.written(event_id) == 0


async def test_the_dapr_sidecar_still_delivers_beside_the_sources(deliveries: Deliveries) -> None:
    status, _, _ = await deliveries.send(None, **{"dapr-api-token": "from-dapr"})
    assert status == 200
    assert deliveries.issuer.requests == []  # no key was needed


async def test_a_rotated_key_is_fetched_when_a_token_names_it(deliveries: Deliveries) -> None:
    assert (await deliveries.send(deliveries.token()))[0] == 200
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    deliveries.issuer.published.append(Issuer.jwk(new_key, "cluster-key-2"))
    token = deliveries.token(key=new_key, kid="cluster-key-2")
    # Within the refetch pause an unknown key stays unknown; after it, it is fetched.
    assert (await deliveries.send(token))[0] == 401
    deliveries.clock.advance(timedelta(seconds=31))
    assert (await deliveries.send(token))[0] == 200
    assert len(deliveries.issuer.requests) == 2


async def test_unreachable_keys_answer_503_so_the_source_retries(deliveries: Deliveries) -> None:
    rewire(deliveries.rt, event_jwks_url="http://127.0.0.1:9/openid/v1/jwks")  # nothing listens
    for _ in range(2):  # the second within the refetch pause: no new try, the same answer
        status, body, event_id = await deliveries.send(deliveries.token(), "notify")
        assert (status, body["type"]) == (503, "/problems/sender-keys-unavailable")
        assert await deliveries.written(event_id) == 0


async def test_the_routes_stay_as_they_were_without_an_audience(deliveries: Deliveries) -> None:
    """The Dapr variants set no EVENT_AUDIENCE: a bearer token is no way in there."""
    rewire(deliveries.rt, event_audience=None)
    assert (await deliveries.send(deliveries.token()))[0] == 401
