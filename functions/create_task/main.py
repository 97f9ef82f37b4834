"""create_task: POST /api/tasks, as JSON or as a todo.task.create CloudEvent."""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from todo import idempotency, tasks
from todo.task_models import Task, TaskCreate
from todo.unit_of_work import unit_of_work
from todo.web import Call, FunctionApi, etag, json_response

api = FunctionApi("create_task")


@api.post(
    "/api/tasks",
    summary="Create a task",
    permission="tasks:write",
    body=TaskCreate,
    response=Task,
    status=201,
    cloudevent="todo.task.create",
    headers=("Idempotency-Key",),
)
async def create(call: Call, body: TaskCreate) -> Response:
    header = call.header("idempotency-key")
    key = idempotency.check_key(header) if header is not None else None
    if call.event is not None:
        # A retried CloudEvent keeps its id, which makes it its own idempotency key.
        key = idempotency.check_key(str(call.event["id"]), field="id")
    async with unit_of_work() as work:
        created = await tasks.create_task(work, call.user.user_id, body, idempotency_key=key)
    task = created.task
    headers = {"Location": f"/api/tasks/{task.id}", "ETag": etag(task.version)}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(task, 201, headers)


@functions_framework.aio.http
async def create_task(request: Request) -> Response:
    return await api(request)
