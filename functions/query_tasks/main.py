"""query_tasks: read one task, list and search them, and follow the change feed.

Each read is one statement, run without a transaction (see Database.read).
"""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from todo import openapi, outbox, task_queries, tasks
from todo.query_models import (
    ChangeFeed,
    SearchPage,
    SearchQuery,
    SyncQuery,
    TaskListQuery,
    TaskPage,
)
from todo.runtime import runtime
from todo.task_models import Task
from todo.web import Call, FunctionApi, document_response, etag, json_response

api = FunctionApi("query_tasks")
READ = {"permission": "tasks:read"}


@api.get("/api/tasks/{id}", summary="One task", response=Task, **READ)
async def get(call: Call) -> Response:
    task_id = call.path_uuid("id")
    task = await runtime().database.read(
        lambda conn: tasks.get_task(conn, call.user.user_id, task_id)
    )
    return json_response(task, headers={"ETag": etag(task.version)})


@api.get(
    "/api/tasks",
    summary="List tasks: filter, sort, page with a cursor",
    query=TaskListQuery,
    response=TaskPage,
    **READ,
)
async def list_(call: Call, query: TaskListQuery) -> Response:
    rt = runtime()
    now = rt.clock.now()
    page = await rt.database.read(
        lambda conn: task_queries.list_tasks(conn, call.user.user_id, query, now)
    )
    return document_response(page)


@api.get(
    "/api/search",
    summary="Full-text search, best match first",
    query=SearchQuery,
    response=SearchPage,
    **READ,
)
async def search(call: Call, query: SearchQuery) -> Response:
    page = await runtime().database.read(
        lambda conn: task_queries.search_tasks(conn, call.user.user_id, query)
    )
    return document_response(page)


@api.get(
    "/api/sync",
    summary="The account's change feed after a sequence number",
    query=SyncQuery,
    response=ChangeFeed,
    **READ,
)
async def sync(call: Call, query: SyncQuery) -> Response:
    found = await runtime().database.read(
        lambda conn: outbox.changes_since(conn, call.user.user_id, query.since, query.limit + 1)
    )
    page = found[: query.limit]
    feed = ChangeFeed(
        events=[e.to_cloudevent() for e in page],
        last_seq=page[-1].seq if page else query.since,
        has_more=len(found) > query.limit,
    )
    return json_response(feed)


@api.get("/api/openapi.json", summary="This API's OpenAPI document", public=True)
async def openapi_document(call: Call) -> Response:
    return Response(openapi.published_document(), media_type="application/json")


@functions_framework.aio.http
async def query_tasks(request: Request) -> Response:
    return await api(request)
