"""The smallest functions-framework ASGI function: the cold-start baseline."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response


@functions_framework.aio.http
async def hello(request: Request) -> Response:
    return Response("hello", status_code=201)
