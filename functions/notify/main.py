"""notify: due reminders become in-app notifications; users list them and mark them read."""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from todo import notifications
from todo.event_routes import receive
from todo.notification_models import Notification, NotificationPage, NotificationQuery, ReadAll
from todo.runtime import runtime
from todo.web import Call, FunctionApi, json_response

api = FunctionApi("notify")


@api.post("/events", summary="An event from reminder.events", sidecar=True)
async def reminder_events(call: Call) -> Response:
    return await receive(call, [notifications.NOTIFY], topic="reminder.events")


@api.get(
    "/api/notifications",
    summary="The account's notifications, newest first",
    permission="tasks:read",
    query=NotificationQuery,
    response=NotificationPage,
)
async def list_(call: Call, query: NotificationQuery) -> Response:
    async with runtime().database.transaction() as conn:
        page = await notifications.list_notifications(conn, call.user.user_id, query)
    return json_response(page)


@api.post(
    "/api/notifications/{id}/read",
    summary="Mark a notification read",
    permission="tasks:write",
    response=Notification,
)
async def read(call: Call) -> Response:
    rt = runtime()
    async with rt.database.transaction() as conn:
        notification = await notifications.mark_read(
            conn, call.user.user_id, call.path_uuid("id"), rt.clock.now()
        )
    return json_response(notification)


@api.post(
    "/api/notifications/read-all",
    summary="Mark every notification read",
    permission="tasks:write",
    response=ReadAll,
)
async def read_all(call: Call) -> Response:
    rt = runtime()
    async with rt.database.transaction() as conn:
        updated = await notifications.mark_all_read(conn, call.user.user_id, rt.clock.now())
    return json_response(ReadAll(updated=updated))


@functions_framework.aio.http
async def notify(request: Request) -> Response:
    return await api(request)
