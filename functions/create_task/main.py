"""create_task: POST /api/tasks, as JSON or as a todo.task.create CloudEvent, with the
task's fields or the quick-add line a person typed; POST /api/tasks/parse reads such a line
without creating anything."""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from todo import idempotency, tasks
from todo.quick_add_models import ParsedTask
from todo.runtime import runtime
from todo.task_models import NewTask, QuickAdd, Task
from todo.web import Call, FunctionApi, etag, json_response

api = FunctionApi("create_task")


@api.post(
    "/api/tasks",
    summary="Create a task",
    permission="tasks:write",
    body=NewTask,
    response=Task,
    status=201,
    cloudevent="todo.task.create",
    headers=("Idempotency-Key",),
)
async def create(call: Call, body: NewTask) -> Response:
    header = call.header("idempotency-key")
    key = idempotency.check_key(header) if header is not None else None
    if call.event is not None:
        # A retried CloudEvent keeps its id, which makes it its own idempotency key.
        key = idempotency.check_key(str(call.event["id"]), field="id")
    user_id = call.user.user_id
    if body.text is None:
        spec = body.task()
    else:
        # Imported only for a text: a JSON create's cold start never loads the parser.
        from todo import quick_add

        rt = runtime()
        zone = await rt.database.read(lambda conn: quick_add.account_zone(conn, user_id))
        spec = quick_add.task_from(body, quick_add.parse(body.text, rt.clock.now(), zone))
    # A retry of a text must match the text, not what it reads as by then.
    sent = body if body.text is not None else None
    created = await tasks.create_task(user_id, spec, idempotency_key=key, request=sent)
    task = created.task
    headers = {"Location": f"/api/tasks/{task.id}", "ETag": etag(task.version)}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(task, 201, headers)


@api.post(
    "/api/tasks/parse",
    summary="Read a quick-add line into task fields, creating nothing",
    permission="tasks:write",
    body=QuickAdd,
    response=ParsedTask,
)
async def parse(call: Call, body: QuickAdd) -> Response:
    from todo import quick_add

    rt = runtime()
    zone = await rt.database.read(lambda conn: quick_add.account_zone(conn, call.user.user_id))
    return json_response(quick_add.parse(body.text, rt.clock.now(), zone))


@functions_framework.aio.http
async def create_task(request: Request) -> Response:
    return await api(request)
