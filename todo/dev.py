"""`todo dev`: every function of the set in one process, as the cluster would route them.

Each function is wrapped in functions-framework's own ASGI app, exactly as deployed, and
requests go to the function whose routes match, the way the ingress sends them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from functions_framework.aio import create_asgi_app_from_module
from starlette.types import ASGIApp, Receive, Scope, Send

import functions
from todo.errors import MethodNotAllowed, RouteNotFound
from todo.problems import problem_response
from todo.runtime import runtime
from todo.web import FunctionApi


class FunctionRouter:
    """Send each request to the function that declares its method and path."""

    def __init__(self, mounted: Sequence[tuple[FunctionApi, ASGIApp]]) -> None:
        self.mounted = list(mounted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"unsupported scope {scope['type']}")
        path, method = scope["path"], scope["method"]
        allowed: set[str] = set()
        for api, app in self.mounted:
            for route in api.routes:
                if route.pattern.match(path):
                    if route.method == method or (method == "HEAD" and route.method == "GET"):
                        await app(scope, receive, send)
                        return
                    allowed.add(route.method)
        if path in ("/health", "/ready", "/metrics"):
            # Every function serves these; any one answers for the process.
            await self.mounted[0][1](scope, receive, send)
            return
        error = (
            MethodNotAllowed(sorted(allowed))
            if allowed
            else RouteNotFound(f"no route for {method} {path}")
        )
        await problem_response(error, instance=path)(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await runtime().close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def function_app(name: str) -> tuple[FunctionApi, ASGIApp]:
    """A function's module and its functions-framework ASGI app."""
    module = functions.load(name)
    app = create_asgi_app_from_module(name, module.__file__, None, module, None)
    return module.api, app


def build_app(names: Sequence[str] = functions.HTTP_FUNCTIONS) -> FunctionRouter:
    return FunctionRouter([function_app(name) for name in names])


def dev_secret(data_dir: Path) -> str:
    """The JWT secret `todo dev` keeps in its data folder, made on first start."""
    path = data_dir / "jwt-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def banner(url: str, database: str) -> str:
    register = (
        f"curl -s -X POST {url}/api/auth/register -H 'content-type: application/json' "
        '-d \'{"email": "you@example.com", "password": "a long passphrase"}\''
    )
    lines: list[Any] = [
        f"todo dev is serving every function at {url}",
        f"  database:  {database}",
        f"  OpenAPI:   {url}/api/openapi.json",
        f"  register:  {register}",
        "             (the answer holds access_token; send it as 'authorization: Bearer <token>')",
        f'  tasks:     curl -s {url}/api/tasks -H "authorization: Bearer $TOKEN"',
        "Ctrl-C stops it; data is kept for the next start.",
    ]
    return "\n".join(lines)
