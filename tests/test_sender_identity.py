"""Event deliveries from Knative Eventing sources carry their sender's OIDC token, and the
event routes take only the sources that feed them (todo/sender_identity.py).

A loopback server plays kube-apiserver's TokenReview endpoint: it answers as the API server
does for a token it issued, and records what it was asked. The tokens are shaped like the
service-account tokens a TokenRequest issues; their signatures are HMAC, since the app
checks none itself (the API server does)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.conftest import Account, rewire
from tests.test_event_functions import count, post, task_event
from todo.clock import ManualClock
from todo.runtime import Runtime
from todo.sender_identity import REVIEWS_KEPT, SenderIdentity
from todo.settings import Settings
from todo_cli.dev import Stack

AUDIENCE = "serving.knative.dev/service/todo/process-event"
SOURCE = "system:serviceaccount:todo:process-event-task-events-oidc-sources.knative.dev-kafkasource"
STRANGER = "system:serviceaccount:todo:default"
OWN_TOKEN = "the-pods-own-service-account-token"
REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
PROBLEMS = {
    401: "/problems/unauthenticated",
    403: "/problems/forbidden",
    503: "/problems/token-review-unavailable",
}

Answer = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


def authenticated(review: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The API server's answer for a token it issued: the account, and the audiences the
    review asked for that the token has."""
    spec = review["spec"]
    claims = jwt.decode(spec["token"], options={"verify_signature": False})
    status = {
        "authenticated": True,
        "audiences": [a for a in spec.get("audiences", []) if a in claims["aud"]],
        "user": {"username": claims["sub"], "groups": ["system:serviceaccounts"]},
    }
    return 201, {**review, "status": status}


@dataclass
class ApiServer:
    """kube-apiserver's TokenReview endpoint: what it was asked, and how it answers."""

    url: str = ""
    answer: Answer = authenticated
    reviews: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)

    @property
    def reviewed(self) -> list[str]:
        return [body["spec"]["token"] for _, body in self.reviews]


@pytest.fixture
def api_server() -> Iterator[ApiServer]:
    state = ApiServer()

    class TokenReviews(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            review = json.loads(self.rfile.read(int(self.headers["content-length"])))
            state.reviews.append(({k.lower(): v for k, v in self.headers.items()}, review))
            status, answer = state.answer(review) if self.path == REVIEWS else (404, {})
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenReviews)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}{REVIEWS}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def source_token(
    now: datetime, *, sub: str = SOURCE, aud: str = AUDIENCE, ttl: timedelta = timedelta(hours=1)
) -> str:
    """A token as the API server's TokenRequest issues it for a source's account."""
    claims = {
        "aud": [aud],
        "exp": int((now + ttl).timestamp()),
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": sub,
        "kubernetes.io": {"namespace": "todo", "serviceaccount": {"name": sub.split(":")[-1]}},
    }
    return jwt.encode(claims, "not-the-clusters-key-" * 2, algorithm="HS256")


@dataclass
class Deliveries:
    """Task events delivered to the event functions, configured as the kafkasource overlay
    configures them, and what they left in the database."""

    stack: Stack
    rt: Runtime
    clock: ManualClock
    api_server: ApiServer
    account: Account
    task: dict[str, Any]

    def token(self, **claims: Any) -> str:
        return source_token(self.clock.now(), **claims)

    async def send(
        self, token: str | None, fn: str = "process_event", **headers: str
    ) -> tuple[int, Any, str]:
        event = task_event(self.account, self.task)
        headers["content-type"] = "application/cloudevents+json"
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        status, body = await post(self.stack, fn, "/events", json.dumps(event).encode(), headers)
        return status, body, event["id"]

    async def refused(self, token: str | None, fn: str = "process_event") -> tuple[int, str]:
        """Status and detail of a delivery that must not pass, having checked it wrote
        nothing and answered a problem."""
        status, body, event_id = await self.send(token, fn)
        assert body["status"] == status
        assert body["type"] == PROBLEMS[status]
        assert await self.written(event_id) == 0
        return status, body["detail"]

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
    api_server: ApiServer,
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
        event_review_url=api_server.url,
        event_review_token_file=own_token,
        app_api_token="from-dapr",
    )
    return Deliveries(stack, configured, clock, api_server, alice, task)


async def test_a_source_that_feeds_the_function_is_reviewed_once_per_token(
    deliveries: Deliveries,
) -> None:
    token = deliveries.token()
    status, body, event_id = await deliveries.send(token)
    assert (status, body) == (200, {"status": "SUCCESS"})
    assert await deliveries.written(event_id) >= 1
    # Asked with the pod's own token, for our audience.
    ((headers, review),) = deliveries.api_server.reviews
    assert headers["authorization"] == f"Bearer {OWN_TOKEN}"
    assert review == {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token, "audiences": [AUDIENCE]},
    }
    # The same token again, to either function of the process, is taken without asking.
    deliveries.clock.advance(timedelta(minutes=50))
    assert (await deliveries.send(token))[0] == 200
    assert (await deliveries.send(token, "notify"))[0] == 200
    assert deliveries.api_server.reviewed == [token]
    # A new token is reviewed; the old one, once expired, is refused without asking.
    fresh = deliveries.token()
    assert (await deliveries.send(fresh))[0] == 200
    deliveries.clock.advance(timedelta(minutes=15))
    assert await deliveries.refused(token) == (401, "the sender's token has expired")
    assert deliveries.api_server.reviewed == [token, fresh]


def _refused_locally(now: datetime) -> list[tuple[str, str | None, int, str]]:
    return [
        ("no token", None, 401, "needs the sender's token"),
        ("not a JWT", "not.a-jwt", 401, "not a JWT"),
        ("another audience", source_token(now, aud="todo-api"), 401, "not for this audience"),
        ("another account", source_token(now, sub=STRANGER), 403, STRANGER),
        ("expired", source_token(now - timedelta(hours=2)), 401, "expired"),
    ]


@pytest.mark.parametrize("fn", ["process_event", "notify"])
async def test_a_token_that_cannot_pass_is_refused_without_asking(
    deliveries: Deliveries, fn: str
) -> None:
    for case, token, expected, reason in _refused_locally(deliveries.clock.now()):
        status, detail = await deliveries.refused(token, fn)
        assert status == expected, case
        assert reason.lower() in detail.lower(), (case, detail)
    assert deliveries.api_server.reviews == []


def _not_authenticated(review: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status = {"authenticated": False, "error": "invalid bearer token, token has been invalidated"}
    return 201, {**review, "status": status}


def _another_account(review: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    code, answer = authenticated(review)
    answer["status"]["user"]["username"] = STRANGER
    return code, answer


def _audience_unaware(review: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """An authenticator that ignores spec.audiences: authenticated, no audiences."""
    code, answer = authenticated(review)
    del answer["status"]["audiences"]
    return code, answer


@pytest.mark.parametrize(
    ("answer", "expected", "reason"),
    [
        (_not_authenticated, 401, "token has been invalidated"),
        (_another_account, 403, f"names {STRANGER}, not the token's {SOURCE}"),
        (_audience_unaware, 401, "does not confirm the token's audience"),
    ],
)
async def test_a_token_the_api_server_does_not_vouch_for_is_refused_and_asked_again(
    deliveries: Deliveries, answer: Answer, expected: int, reason: str
) -> None:
    deliveries.api_server.answer = answer
    token = deliveries.token()
    status, detail = await deliveries.refused(token)
    assert status == expected
    assert reason in detail
    assert (await deliveries.refused(token))[0] == expected
    assert len(deliveries.api_server.reviews) == 2  # a refusal is not remembered


async def test_an_api_server_that_cannot_answer_is_503_so_the_source_retries(
    deliveries: Deliveries,
) -> None:
    deliveries.api_server.answer = lambda review: (500, {"kind": "Status", "code": 500})
    assert (await deliveries.refused(deliveries.token(), "notify"))[0] == 503
    rewire(deliveries.rt, event_review_url="http://127.0.0.1:9" + REVIEWS)  # no one listens
    assert (await deliveries.refused(deliveries.token(), "notify"))[0] == 503


async def test_a_users_token_is_no_senders_token(deliveries: Deliveries) -> None:
    assert (await deliveries.refused(deliveries.account.token, "notify"))[0] == 401
    assert deliveries.api_server.reviews == []


async def test_the_dapr_sidecar_still_delivers_beside_the_sources(deliveries: Deliveries) -> None:
    status, _, _ = await deliveries.send(None, **{"dapr-api-token": "from-dapr"})
    assert status == 200
    assert deliveries.api_server.reviews == []


async def test_the_routes_stay_as_they_were_without_an_audience(deliveries: Deliveries) -> None:
    """The Dapr variants set no EVENT_AUDIENCE: a bearer token is no way in there."""
    rewire(deliveries.rt, event_audience=None)
    assert (await deliveries.refused(deliveries.token()))[0] == 401
    assert deliveries.api_server.reviews == []


def _senders(api_server: ApiServer) -> SenderIdentity:
    return SenderIdentity(
        Settings(event_audience=AUDIENCE, event_senders=(SOURCE,), event_review_url=api_server.url)
    )


async def test_a_reviewed_token_is_reviewed_again_after_an_hour(api_server: ApiServer) -> None:
    senders, now = _senders(api_server), datetime(2026, 1, 5, 9, tzinfo=UTC)
    token = source_token(now, ttl=timedelta(hours=3))
    for after in (timedelta(0), timedelta(minutes=59), timedelta(minutes=61)):
        assert await senders.verify(token, now + after) == SOURCE
    assert api_server.reviewed == [token, token]


async def test_only_the_latest_reviews_are_remembered(api_server: ApiServer) -> None:
    senders, now = _senders(api_server), datetime(2026, 1, 5, 9, tzinfo=UTC)
    tokens = [source_token(now, ttl=timedelta(minutes=30 + i)) for i in range(REVIEWS_KEPT + 1)]
    for token in [*tokens, tokens[-1], tokens[0]]:
        assert await senders.verify(token, now) == SOURCE
    assert api_server.reviewed == [*tokens, tokens[0]]
