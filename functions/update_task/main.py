"""update_task: change, complete, reopen and delete a task, honouring If-Match."""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from todo import tasks
from todo.task_models import Task, TaskPatch
from todo.unit_of_work import unit_of_work
from todo.web import Call, FunctionApi, etag, if_match, json_response

api = FunctionApi("update_task")
WRITE = {"permission": "tasks:write", "response": Task, "headers": ("If-Match",)}


def _task_response(task: Task) -> Response:
    return json_response(task, headers={"ETag": etag(task.version)})


@api.patch("/api/tasks/{id}", summary="Change fields of a task", body=TaskPatch, **WRITE)
async def update(call: Call, body: TaskPatch) -> Response:
    async with unit_of_work() as work:
        task = await tasks.update_task(
            work, call.user.user_id, call.path_uuid("id"), body, if_match(call)
        )
    return _task_response(task)


@api.post("/api/tasks/{id}/complete", summary="Mark a task completed", **WRITE)
async def complete(call: Call) -> Response:
    async with unit_of_work() as work:
        task = await tasks.complete_task(
            work, call.user.user_id, call.path_uuid("id"), if_match(call)
        )
    return _task_response(task)


@api.post("/api/tasks/{id}/reopen", summary="Reopen a completed task", **WRITE)
async def reopen(call: Call) -> Response:
    async with unit_of_work() as work:
        task = await tasks.reopen_task(
            work, call.user.user_id, call.path_uuid("id"), if_match(call)
        )
    return _task_response(task)


@api.delete(
    "/api/tasks/{id}",
    summary="Delete a task",
    permission="tasks:write",
    status=204,
    headers=("If-Match",),
)
async def delete(call: Call) -> Response:
    async with unit_of_work() as work:
        await tasks.delete_task(work, call.user.user_id, call.path_uuid("id"), if_match(call))
    return Response(status_code=204)


@functions_framework.aio.http
async def update_task(request: Request) -> Response:
    return await api(request)
