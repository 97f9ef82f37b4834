"""reminders: list, add, delete and snooze the reminders on a user's tasks."""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from todo import reminders as reminder_ops
from todo.reminder_models import Reminder, ReminderCreate, ReminderPage, ReminderQuery, Snooze
from todo.runtime import runtime
from todo.unit_of_work import unit_of_work
from todo.web import Call, FunctionApi, json_response

api = FunctionApi("reminders")


@api.get(
    "/api/reminders",
    summary="List reminders, soonest first (by task, pending or delivered)",
    permission="tasks:read",
    query=ReminderQuery,
    response=ReminderPage,
)
async def list_(call: Call, query: ReminderQuery) -> Response:
    async with runtime().database.transaction() as conn:
        return json_response(await reminder_ops.list_reminders(conn, call.user.user_id, query))


@api.post(
    "/api/reminders",
    summary="Add a reminder to a task, at a time or a duration before it is due",
    permission="tasks:write",
    body=ReminderCreate,
    response=Reminder,
    status=201,
    answers=(404,),
)
async def add(call: Call, body: ReminderCreate) -> Response:
    async with unit_of_work() as work:
        reminder = await reminder_ops.add_reminder(work, call.user.user_id, body)
    return json_response(reminder, 201, {"Location": f"/api/reminders/{reminder.id}"})


@api.delete(
    "/api/reminders/{id}", summary="Delete a reminder", permission="tasks:write", status=204
)
async def delete(call: Call) -> Response:
    async with unit_of_work() as work:
        await reminder_ops.delete_reminder(work, call.user.user_id, call.path_uuid("id"))
    return Response(status_code=204)


@api.post(
    "/api/reminders/{id}/snooze",
    summary="Remind again later: after some minutes, or at a given time",
    permission="tasks:write",
    body=Snooze,
    response=Reminder,
)
async def snooze(call: Call, body: Snooze) -> Response:
    async with unit_of_work() as work:
        reminder = await reminder_ops.snooze(work, call.user.user_id, call.path_uuid("id"), body)
    return json_response(reminder)


@functions_framework.aio.http
async def reminders(request: Request) -> Response:
    return await api(request)
