"""`todo dev`: every function of the set in one process, as the cluster would run them.

Each function is wrapped in functions-framework's own ASGI app, exactly as deployed.
Public requests go to the function whose routes match, as the ingress sends them; events
go over the in-process bus to the routes `dapr/subscriptions.yaml` names, as the Dapr
sidecars push them; a ticker posts to the tick function like the cron binding.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import re
import secrets
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions_framework.aio import create_asgi_app_from_module
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import functions
from todo import cors
from todo.bus import Deliver, Delivery, LocalBus, RetryPolicy
from todo.errors import TodoError
from todo.event_routes import BULK_EVENT_TYPE
from todo.problems import problem_response
from todo.routing import Router
from todo.runtime import runtime
from todo.settings import Origin
from todo.web import BUILTIN_ROUTES, FunctionApi
from todo.web_app import BUILD_HINT, WebApp
from todo_cli.config import DEFAULT_SERVER

log = logging.getLogger(__name__)

DAPR = Path(__file__).resolve().parent.parent / "dapr"
SUBSCRIPTIONS = DAPR / "subscriptions.yaml"
RESILIENCY = DAPR / "resiliency.yaml"
GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
GO_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
REALTIME = "realtime"  # the websocket service's app-id


@dataclass(frozen=True)
class Function:
    name: str
    api: FunctionApi
    app: ASGIApp


def load_function(name: str) -> Function:
    """A function's module and its functions-framework ASGI app."""
    module = functions.load(name)
    app = create_asgi_app_from_module(name, module.__file__, None, module, None)
    return Function(name, module.api, app)


async def call_app(
    app: ASGIApp, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One request straight into an ASGI app, as a sidecar would make it."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 8080),
    }
    sent = False
    status = 500
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def deliver_to(app: ASGIApp, path: str, *, bulk: bool = False) -> Deliver:
    """Push a CloudEvent to a function's route the way Dapr does, and read its answer. For a
    bulk subscription, as the one entry of a bulk delivery (Dapr batches up to
    maxMessagesCount; one at a time here, with the same envelope and per-entry status)."""

    async def deliver(cloudevent: dict[str, Any]) -> Delivery:
        headers = {"content-type": "application/cloudevents+json"}
        token = runtime().settings.app_api_token
        if token:
            headers["dapr-api-token"] = token
        body = cloudevent
        if bulk:
            headers["content-type"] = "application/json"
            body = bulk_envelope(cloudevent)
        status, answer = await call_app(app, "POST", path, json.dumps(body).encode(), headers)
        verdict = None
        if 200 <= status < 300 and answer:
            with contextlib.suppress(ValueError, AttributeError, KeyError, IndexError, TypeError):
                parsed = json.loads(answer)
                verdict = parsed["statuses"][0]["status"] if bulk else parsed.get("status")
        return Delivery(status, verdict)

    return deliver


def bulk_envelope(cloudevent: dict[str, Any]) -> dict[str, Any]:
    """Dapr's bulk delivery (dapr/dapr pkg/runtime/pubsub/bulksubscribe_events.go) of one
    event; a missing status counts as RETRY, as there."""
    return {
        "id": str(uuid.uuid4()),
        "type": BULK_EVENT_TYPE,
        "topic": cloudevent.get("topic"),
        "pubsubname": "pubsub",
        "metadata": {},
        "entries": [
            {
                "entryId": str(uuid.uuid4()),
                "event": cloudevent,
                "contentType": "application/cloudevents+json",
                "metadata": {},
            }
        ],
    }


class Stack:
    """The functions, routed by path like the ingress, and wired to the local bus."""

    def __init__(
        self, names: Sequence[str] = functions.FUNCTIONS, web: WebApp | None = None
    ) -> None:
        from realtime.app import create_app

        self.functions = {name: load_function(name) for name in names}
        self.realtime = create_app()
        self.web = web or WebApp()
        # The ingress's routes: every function's public ones. The probes and metrics every
        # function serves are answered for the process by any one of them.
        self.router: Router[ASGIApp] = Router(
            (route.method, route.path, fn.app)
            for fn in self.functions.values()
            for route in fn.api.public_routes
        )
        # So are CORS preflights: every function answers them for every path of the API.
        self.anyone = next(iter(self.functions.values())).app
        for route in BUILTIN_ROUTES:
            self.router.add(route.method, route.path, self.anyone)
        self._ticker: asyncio.Task[None] | None = None
        self.tick_interval: float | None = None

    def app(self, name: str) -> ASGIApp:
        return self.functions[name].app

    def wire(self, bus: LocalBus, subscriptions: Path = SUBSCRIPTIONS) -> None:
        """Subscribe the services to their topics as the Dapr Subscription resources say."""
        import yaml

        apps: dict[str, ASGIApp] = {functions.app_id(n): f.app for n, f in self.functions.items()}
        apps[REALTIME] = self.realtime
        for doc in yaml.safe_load_all(subscriptions.read_text()):
            spec = doc["spec"]
            for scope in doc.get("scopes", []):
                if scope in apps:
                    route = spec["routes"]["default"]
                    bulk = bool(spec.get("bulkSubscribe", {}).get("enabled"))
                    deliver = deliver_to(apps[scope], route, bulk=bulk)
                    bus.subscribe(scope, spec["topic"], deliver)

    async def tick(self) -> tuple[int, bytes]:
        """What the cron binding does every minute."""
        path = f"/{runtime().settings.tick_binding}"
        return await call_app(self.app("tick_reminders"), "POST", path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            await self.realtime(scope, receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"unsupported scope {scope['type']}")
        if cors.is_preflight(scope["method"], scope["path"], Headers(scope=scope)):
            await self.anyone(scope, receive, send)
            return
        try:
            app, _ = self.router.match(scope["method"], scope["path"])
        except TodoError as exc:
            if self.web.serves(scope["method"], scope["path"]):
                await self.web(scope, receive, send)
                return
            await problem_response(exc, instance=scope["path"])(scope, receive, send)
            return
        await app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.tick_interval:
                    self._ticker = asyncio.create_task(self._tick_forever(self.tick_interval))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._ticker is not None:
                    self._ticker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._ticker
                await self.realtime.state.hub.close()
                await runtime().close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _tick_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                status, body = await self.tick()
                log.info("tick", extra={"status": status, "result": body.decode()})
            except Exception:
                log.exception("tick failed")


def delivery_retry(resiliency: Path = RESILIENCY) -> RetryPolicy:
    """The retry dapr/resiliency.yaml gives deliveries from the pub/sub component, for the
    in-process bus to apply as the sidecar does."""
    import yaml

    (spec,) = (doc["spec"] for doc in yaml.safe_load_all(resiliency.read_text()))
    name = spec["targets"]["components"]["pubsub"]["inbound"]["retry"]
    policy = spec["policies"]["retries"][name]
    if policy["policy"] != "exponential":
        raise ValueError(f"{resiliency}: the in-process bus follows exponential retries only")
    return RetryPolicy(int(policy["maxRetries"]), go_duration(policy["maxInterval"]))


def go_duration(text: str) -> float:
    """Seconds in a Go duration as Dapr reads them ("15s", "1m30s", "500ms")."""
    parts = GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * GO_UNITS[u] for n, u in parts)


def dev_secret(data_dir: Path) -> str:
    """The JWT secret `todo dev` keeps in its data folder, made on first start."""
    path = data_dir / "jwt-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def refuse_taken_port(host: str, port: int) -> None:
    """Exit with one line naming a free port when `port` is taken, instead of uvicorn's error
    after the database has started in vain."""
    if port_taken(host, port):
        free = next((p for p in range(port + 1, port + 100) if not port_taken(host, p)), port + 1)
        raise SystemExit(f"todo dev: port {port} is in use; pick another with --port {free}")


def port_taken(host: str, port: int) -> bool:
    """Whether uvicorn's bind would fail because the port is in use: the same family and
    SO_REUSEADDR as its own, so a port the last run left in TIME_WAIT counts as free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise SystemExit(f"todo dev: cannot listen on {host}:{port}: {exc.strerror}") from None
    return False


def own_origins(host: str, port: int) -> tuple[Origin, ...]:
    """The origins a browser reaches `todo dev` at: 127.0.0.1 and localhost (a page loaded
    from one that calls the API by the other is cross-origin), and the address it listens
    on, unless that is every address."""
    names = ["127.0.0.1", "localhost"]
    if host not in ("0.0.0.0", "::", *names):
        names.append(f"[{host}]" if ":" in host else host)
    return tuple(Origin(f"http://{name}:{port}") for name in names)


def banner(url: str, database: str, tick_interval: float, web_built: bool = True) -> str:
    register = (
        f"curl -s -X POST {url}/api/auth/register -H 'content-type: application/json' "
        '-d \'{"email": "you@example.com", "password": "a long passphrase"}\''
    )
    server = "" if url == DEFAULT_SERVER else f" --server {url}"
    return "\n".join(
        [
            f"todo dev is serving every function at {url}",
            f"  web app:   {url}/" if web_built else f"  web app:   {BUILD_HINT}",
            f"  log in:    todo register{server}   (a new account; `todo login{server}` after)",
            '             then: todo add "Pay rent friday 9am #home !high", todo ls, todo watch',
            f"  database:  {database}",
            f"  events:    in-process bus; reminder tick every {tick_interval:g} s",
            f"  OpenAPI:   {url}/api/openapi.json",
            f"  register:  {register}",
            "             (the answer holds access_token; send it as "
            "'authorization: Bearer <token>')",
            f'  tasks:     curl -s {url}/api/tasks -H "authorization: Bearer $TOKEN"',
            "Ctrl-C stops it; data is kept for the next start.",
        ]
    )
