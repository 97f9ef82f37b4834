"""process_event: task events for the audit log and repeating tasks; dead-letter intake."""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from todo.audit import AUDIT
from todo.event_routes import receive, receive_dead_letter
from todo.recurring import RECURRENCE
from todo.web import Call, FunctionApi

api = FunctionApi("process_event")


@api.post("/events", summary="An event from task.events", sidecar=True)
async def task_events(call: Call) -> Response:
    return await receive(call, [AUDIT, RECURRENCE], topic="task.events")


@api.post("/events/dead-letter", summary="An event from a dead-letter topic", sidecar=True)
async def dead_letters(call: Call) -> Response:
    return await receive_dead_letter(call)


@functions_framework.aio.http
async def process_event(request: Request) -> Response:
    return await api(request)
