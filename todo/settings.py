"""The one place that reads the environment.

Every knob a function, `todo dev` or the tests can turn is a field here, read from an
environment variable of the same name in upper case. Nothing else calls `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


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

    # Login throttling: after this many failures in a row the account is locked for
    # `login_lockout_seconds`, doubling with every further failure (capped at one hour).
    login_max_failures: int = 5
    login_lockout_seconds: int = 30

    max_body_bytes: int = MIB
    page_limit_default: int = 50
    page_limit_max: int = 200

    # Dapr sidecar. DAPR_HTTP_ENDPOINT wins over DAPR_HTTP_PORT; neither set means
    # there is no sidecar and events go to the in-process bus.
    dapr_http_endpoint: str | None = None
    dapr_http_port: int | None = None
    dapr_api_token: str | None = None
    # The token the sidecar presents to this app (Dapr's APP_API_TOKEN): it lets event
    # deliveries through without a user's bearer token.
    app_api_token: str | None = None
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
        for field in fields(cls):
            raw = env.get(field.name.upper())
            if raw is None or raw == "":
                continue
            values[field.name] = _convert(field.name, field.type, raw)
        # FUNCTION_TARGET is how functions-framework names the function it serves.
        if "function_name" not in values and env.get("FUNCTION_TARGET"):
            values["function_name"] = env["FUNCTION_TARGET"]
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _convert(name: str, annotation: Any, raw: str) -> Any:
    kind = str(annotation)
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("Path"):
            return Path(raw)
    except ValueError as exc:
        raise ValueError(
            f"environment variable {name.upper()}={raw!r} is not a valid {kind}"
        ) from exc
    return raw
