"""The one place that reads the environment.

Every knob a function, `todo dev` or the tests can turn is a field here, read from an
environment variable of the same name in upper case. Nothing else calls `os.environ`.
"""

from __future__ import annotations

import functools
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NewType
from urllib.parse import urlsplit

MIB = 1024 * 1024
# A web origin as browsers send it in the Origin header: scheme://host[:port], in lower case,
# without the default port or a trailing slash.
Origin = NewType("Origin", str)


@dataclass(frozen=True)
class Settings:
    # Postgres. Unset means "use the embedded server" (only `todo dev` and the tests start one).
    database_url: str | None = None
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_connect_timeout: float = 5.0
    db_command_timeout: float = 15.0
    # 0 disables asyncpg's prepared-statement cache, needed behind PgBouncer in
    # transaction mode (for example Neon's pooled endpoint on old PgBouncer versions).
    db_statement_cache_size: int = 100

    # Tokens. The secret is required wherever a token is issued or checked.
    jwt_secret: str | None = None
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "todo"
    jwt_audience: str = "todo-api"
    jwt_ttl_seconds: int = 3600
    # How long a process trusts that a token's account still exists before asking again.
    account_check_seconds: float = 30.0
    # Refresh tokens (todo/sessions.py). Each lasts this long from its issue, and each use
    # issues the next, so a session in use slides on; none outlives the session's lifetime.
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    session_lifetime_seconds: int = 90 * 24 * 3600

    # Login throttling (todo/login_throttle.py). Per (email, client address): after this many
    # failures a lock of `login_lockout_seconds`, doubling with every further one (at most an
    # hour). Per client address, whatever the email: a generous count, then a fixed lock.
    login_max_failures: int = 5
    login_lockout_seconds: int = 30
    login_address_max_failures: int = 50
    login_address_lockout_seconds: int = 900
    # The request header a trusted proxy in front sets to the client's address (for example
    # x-real-ip behind Traefik). Unset: the socket peer is the client.
    client_address_header: str | None = None

    # Web origins whose pages may call the API from a browser (CORS; todo/cors.py), comma-
    # separated. None by default: the web app is served from the API's own origin, which
    # needs no CORS, and other pages get no CORS headers. `todo dev` adds its own origins.
    cors_allowed_origins: tuple[Origin, ...] = ()

    max_body_bytes: int = MIB
    # Request headers, all names and values together, and how many: past either, 431.
    max_header_bytes: int = 16 * 1024
    max_header_count: int = 100

    # Dapr sidecar. DAPR_HTTP_ENDPOINT wins over DAPR_HTTP_PORT; neither set means
    # there is no sidecar and events go to the in-process bus.
    dapr_http_endpoint: str | None = None
    dapr_http_port: int | None = None
    dapr_api_token: str | None = None
    # The token the sidecar presents to this app (Dapr's APP_API_TOKEN): it lets event
    # deliveries through without a user's bearer token.
    app_api_token: str | None = None
    # Knative Eventing's sender identity (todo/sender_identity.py), for event deliveries
    # from KafkaSources, which cannot present APP_API_TOKEN. Set the audience (the sources'
    # `sink.audience`) and every delivery must carry a service-account token for it from
    # one of `event_senders` (`system:serviceaccount:<namespace>:<name>`, comma-separated),
    # which the API server confirms (a TokenReview); the Dapr sidecar's token still works.
    event_audience: str | None = None
    event_senders: tuple[str, ...] = ()
    # Where the TokenReviews go, asked with the pod's own service-account token and the
    # cluster's CA (knative/components/kafkasource/sender-identity.yaml).
    event_review_url: str = (
        "https://kubernetes.default.svc/apis/authentication.k8s.io/v1/tokenreviews"
    )
    event_review_token_file: Path | None = None
    event_review_ca_file: Path | None = None
    pubsub_name: str = "pubsub"
    publish_timeout_seconds: float = 2.0
    # Lanes publishing side by side after commit (a user always goes by the same lane, so
    # their events stay in order). Batches grow when a lane falls behind, so few lanes
    # keep up: bench/publish.py at ~200 creates/s had lag p99 0.33-0.49 s with 1-2 lanes,
    # 0.54-1.1 s with 4 and ~1 s with 8 (each lane's requests cost the function CPU). Two,
    # so one slow answer from the broker does not stall every user.
    publish_concurrency: int = 2
    # The relay leaves younger events to the after-commit publisher, which hands over to
    # the relay what it could not send within half this time (so the two never race).
    relay_after_seconds: float = 10.0
    # The name of the Dapr cron input binding that fires the tick (its route is /<name>).
    tick_binding: str = "tick"
    # A tick that knows no reminder is due leaves the database alone (todo.next_due), but
    # looks at least this often: each look wakes a suspended Neon compute for its five
    # idle minutes, so every 6 h costs about 20 minutes of compute a day.
    tick_idle_look_seconds: float = 21600.0

    # Realtime (websocket) service.
    ws_heartbeat_seconds: float = 20.0
    ws_heartbeat_timeout_seconds: float = 20.0
    ws_auth_timeout_seconds: float = 5.0
    ws_queue_size: int = 256
    ws_replay_page: int = 200

    data_dir: Path = Path(".data")
    log_level: str = "INFO"
    function_name: str = "todo"

    @property
    def dapr_url(self) -> str | None:
        if self.dapr_http_endpoint:
            return self.dapr_http_endpoint.rstrip("/")
        if self.dapr_http_port:
            return f"http://127.0.0.1:{self.dapr_http_port}"
        return None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, convert in _converters().items():
            raw = env.get(name.upper())
            if raw is None or raw == "":
                continue
            try:
                values[name] = convert(raw)
            except ValueError as exc:
                raise ValueError(
                    f"environment variable {name.upper()}={raw!r} is not valid: {exc}"
                ) from None
        # FUNCTION_TARGET is how functions-framework names the function it serves.
        if "function_name" not in values and env.get("FUNCTION_TARGET"):
            values["function_name"] = env["FUNCTION_TARGET"]
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _names(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))


def _origins(raw: str) -> tuple[Origin, ...]:
    """Comma-separated origins, each exactly as a browser's Origin header would name it: a
    value that could never match one (a path, a default port, `*`) is refused here."""
    return tuple(dict.fromkeys(_origin(part.strip()) for part in raw.split(",") if part.strip()))


def _origin(given: str) -> Origin:
    origin = given.lower()
    parts = urlsplit(origin)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        port = -1
    well_formed = (
        default_port is not None
        and port != -1
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and not parts.netloc.endswith(":")
        and f"{parts.scheme}://{parts.netloc}" == origin
    )
    if not well_formed:
        raise ValueError(f"{given!r} is not an origin such as https://app.example.com")
    if port == default_port:
        raise ValueError(f"{given!r}: a browser sends this origin without its default port")
    return Origin(origin)


# How a variable's text becomes each type a field may have (`X | None` reads as X).
CONVERSIONS: dict[object, Callable[[str], Any]] = {
    str: str,
    int: int,
    float: float,
    bool: _boolean,
    Path: Path,
    tuple[Origin, ...]: _origins,
    tuple[str, ...]: _names,
}


@functools.cache
def _converters() -> dict[str, Callable[[str], Any]]:
    """Each field's conversion, from its resolved annotation; a field of a type not in
    CONVERSIONS fails here, on the first read of the environment, not on a typo later."""
    converters = {}
    for name, annotation in typing.get_type_hints(Settings).items():
        optional = typing.get_origin(annotation) in (typing.Union, types.UnionType)
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        if not optional:
            kinds = [annotation]
        if len(kinds) != 1 or kinds[0] not in CONVERSIONS:
            raise TypeError(f"Settings.{name}: no conversion from text to {annotation}")
        converters[name] = CONVERSIONS[kinds[0]]
    return converters
