"""realtime: the websocket service that pushes each user's changes to all their clients.

    GET /ws?since=N, GET /ws/{user_id}?since=N   websocket (see realtime.protocol)
    POST /events                                 events pushed by the Dapr sidecar
    GET /health, /ready, /metrics
    GET, HEAD of any other path                  the web app (todo/web_app.py)

Run it with `uvicorn realtime.app:app`. It is always on: it holds the sockets. Each pod
subscribes with its own consumer group, so every pod sees every event and pushes it to the
sockets it holds; events a pod missed while restarting reach clients through the change
feed when they resume from their last sequence number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime import protocol
from realtime.hub import Connection, Hub, Resume
from todo.confirmed_accounts import confirm_now
from todo.errors import AccountGone, NotAuthenticated
from todo.event_routes import read_events
from todo.incoming import IncomingEvent
from todo.runtime import runtime
from todo.tokens import Principal, verify_token
from todo.web import Call, FunctionApi
from todo.web_app import WebApp

log = logging.getLogger(__name__)
api = FunctionApi("realtime")
READ = "tasks:read"  # what the feed needs, as GET /api/sync does
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


def hub_of(app: Starlette) -> Hub:
    hub: Hub = app.state.hub
    return hub


@api.post("/events", summary="Events to push to their users' sockets", sidecar=True)
async def events(call: Call) -> Response:
    delivered = await read_events(call, "realtime")
    hub = hub_of(call.request.app)
    for event in delivered.events:
        live = None if event is None else _live_event(event)
        if live is not None:
            hub.publish(*live)
    return delivered.answer()


def _live_event(event: IncomingEvent) -> tuple[UUID, dict[str, Any], datetime | None] | None:
    """Whose event it is, the message to push, and when it happened; None for an event that
    cannot be pushed (logged and acknowledged: a client fills any gap from the feed)."""
    try:
        if event.user_id is None:
            raise ValueError("no userid")
        message = protocol.from_cloudevent(event.to_cloudevent())
        time = event.attributes.get("time")
        moment = None if time is None else datetime.fromisoformat(str(time))
        if moment is not None and moment.tzinfo is None:
            raise ValueError("time has no offset")
        return event.user_id, message, moment
    except (KeyError, TypeError, ValueError, protocol.ProtocolError) as exc:
        log.info("event not pushed", extra={"event_id": event.id, "reason": str(exc)})
        return None


async def http(request: Request) -> Response:
    """The API's routes; GET and HEAD of any other path get the web app (todo/web_app.py):
    in the cluster, Traefik sends every path outside /api and /ws here."""
    web: WebApp = request.app.state.web
    path = request.scope["path"]
    if web.serves(request.method, path) and not api.router.methods(path):
        return web.response(path)
    return await api(request)


async def _authenticate(websocket: WebSocket) -> Principal | None:
    """Accept the socket and learn who it is, or close it with 4401 having sent nothing."""
    rt = runtime()
    offered = websocket.scope.get("subprotocols") or []
    token: str | None = None
    if len(offered) >= 2 and offered[0].lower() == "bearer":
        token = offered[1]
        await websocket.accept(subprotocol="bearer")
    else:
        await websocket.accept()
        token = await _first_message_token(websocket)
    reason = "authentication failed"
    if token is not None:
        try:
            principal = verify_token(rt.settings, token, rt.clock.now())
            # Asked once per socket, not remembered: a socket lives long, and opens rarely.
            await confirm_now(rt.database, principal.user_id)
            return principal
        except AccountGone as exc:
            reason = exc.detail
        except NotAuthenticated:
            pass
    await websocket.close(protocol.CLOSE_UNAUTHENTICATED, reason)
    return None


async def _first_message_token(websocket: WebSocket) -> str | None:
    """The token of an auth message, if one arrives in time (on the injected clock)."""
    rt = runtime()
    receiving = asyncio.ensure_future(websocket.receive())
    waiting = asyncio.ensure_future(rt.clock.sleep(rt.settings.ws_auth_timeout_seconds))
    try:
        done, _ = await asyncio.wait({receiving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    if receiving not in done:
        receiving.cancel()
        return None
    message = receiving.result()
    try:
        parsed = protocol.parse_client_message(message.get("text") or "")
    except protocol.ProtocolError:
        return None
    return parsed.token if parsed.type == "auth" else None


def _since(websocket: WebSocket) -> int | None:
    raw = websocket.query_params.get("since")
    if raw is None:
        return None
    # At most 19 digits: a bigint's; longer text would be a costly int() for nothing.
    digits = raw.isascii() and raw.isdigit() and len(raw) <= 19
    return protocol.sequence_number(int(raw) if digits else raw)


async def session(websocket: WebSocket) -> None:
    principal = await _authenticate(websocket)
    if principal is None:
        return
    if READ not in principal.permissions:
        await websocket.close(protocol.CLOSE_FORBIDDEN, f"the token lacks {READ}")
        return
    wanted = websocket.path_params.get("user_id")
    if wanted is not None and wanted != str(principal.user_id):
        await websocket.close(protocol.CLOSE_FORBIDDEN, "not your channel")
        return
    try:
        since = _since(websocket)
    except protocol.ProtocolError as exc:
        await websocket.close(protocol.CLOSE_PROTOCOL, str(exc))
        return
    rt = runtime()
    hub = hub_of(websocket.app)
    connection = Connection(
        websocket, principal.user_id, principal.expires_at, rt.settings, rt.database, rt.clock
    )
    hub.join(connection)  # before the replay starts: nothing committed after it is missed
    connection.start(since)
    try:
        await _listen(websocket, connection, hub)
    finally:
        hub.leave(connection)
        await connection.stop()


async def _listen(websocket: WebSocket, connection: Connection, hub: Hub) -> None:
    while True:
        try:
            text = await websocket.receive_text()
        except (WebSocketDisconnect, RuntimeError, KeyError):
            return  # gone, or closed by the service
        connection.heard()
        try:
            message = protocol.parse_client_message(text)
        except protocol.ProtocolError as exc:
            reply: str | Resume = protocol.encode({"type": "error", "detail": str(exc)})
        else:
            if message.type == "resume":
                assert message.since is not None
                reply = Resume(message.since)
            elif message.type == "ping":
                reply = protocol.encode({"type": "pong"})
            else:
                continue
        if not connection.offer(reply):
            await connection.close(protocol.CLOSE_TRY_AGAIN_LATER, "too far behind")
            return


def create_app(web: WebApp | None = None) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await hub_of(app).close()
        with contextlib.suppress(Exception):
            await runtime().close()

    app = Starlette(
        routes=[
            WebSocketRoute("/ws", session),
            WebSocketRoute("/ws/{user_id}", session),
            Route("/{path:path}", http, methods=ALL_METHODS),
        ],
        lifespan=lifespan,
    )
    app.state.hub = Hub()
    app.state.web = web or WebApp()
    return app


app = create_app()
