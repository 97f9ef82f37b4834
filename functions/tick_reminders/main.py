"""tick_reminders: fired every minute by a Dapr cron binding (or a Knative PingSource).

Dapr sends OPTIONS /<binding> at start-up to learn that the app takes the binding, then
POST /<binding> with an empty body on every tick; a PingSource posts a CloudEvent there.
Reminder events arrive on POST /events: each reminder set or moved tells the tick when
to look at the database next (`todo.next_due`).
"""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from todo.event_routes import read_events
from todo.next_due import heard_reminder
from todo.runtime import runtime
from todo.settings import Settings
from todo.tick import run_tick
from todo.web import Call, FunctionApi, json_response

api = FunctionApi("tick_reminders")
BINDING = f"/{Settings.from_env().tick_binding}"


@api.options(BINDING, summary="Dapr asks whether this app takes the binding", sidecar=True)
async def binding_check(call: Call) -> Response:
    return Response(status_code=200)


@api.post(BINDING, summary="Deliver due reminders and relay the outbox", sidecar=True)
async def tick(call: Call) -> Response:
    return json_response((await run_tick()).as_dict())


@api.post("/events", summary="Reminder events: when the next one comes due", sidecar=True)
async def reminder_events(call: Call) -> Response:
    delivered = await read_events(call, "tick")
    for event in delivered.events:
        moment = None if event is None else heard_reminder(event)
        if moment is not None:
            runtime().next_due.hear(moment)
    return delivered.answer()


@functions_framework.aio.http
async def tick_reminders(request: Request) -> Response:
    return await api(request)
