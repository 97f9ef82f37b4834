"""The real platform under test: every function behind its own daprd, over real Redis and a
real Kafka, inside a network namespace with only loopback (`task test:platform`).

One stack per broker for the whole run; the tests share it, each with users of its own.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from stack.isolation import isolated
from stack.platform import PlatformStack
from stack.selfhosted import Shortcuts

PASSWORD = "correct horse battery staple"
# What a test may shorten (issue #10): the tick's schedule and Redis' redelivery.
SHORTCUTS = Shortcuts(schedule="@every 1s", redis_timers="5s")
WAIT_SECONDS = 30.0


@pytest.fixture(scope="session", params=["redis", "kafka"])
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PlatformStack]:
    if not isolated():
        pytest.fail(
            "the platform tests run in a network namespace of their own: task test:platform"
        )
    broker = request.param
    with PlatformStack(tmp_path_factory.mktemp(f"stack-{broker}"), broker, SHORTCUTS) as stack:
        yield stack


@pytest.fixture
async def db(platform: PlatformStack) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(platform.database_url)
    yield conn
    await conn.close()


@dataclass
class User:
    id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


class Api:
    """Requests to the function that serves each route, as the ingress sends them."""

    def __init__(self, stack: PlatformStack) -> None:
        self.stack = stack
        self.http = httpx.AsyncClient(timeout=10.0)

    def url(self, app_id: str, path: str) -> str:
        return self.stack.instance(app_id).url + path

    async def register(self) -> User:
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        response = await self.http.post(
            self.url("auth", "/api/auth/register"),
            json={"email": email, "password": PASSWORD, "timezone": "UTC"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return User(body["user"]["id"], email, body["access_token"])

    async def create_task(self, user: User, **fields: Any) -> dict[str, Any]:
        fields.setdefault("title", "a task")
        response = await self.http.post(
            self.url("create-task", "/api/tasks"), json=fields, headers=user.headers
        )
        assert response.status_code == 201, response.text
        task: dict[str, Any] = response.json()
        return task

    async def update_task(self, user: User, task: dict[str, Any], **fields: Any) -> dict[str, Any]:
        response = await self.http.patch(
            self.url("update-task", f"/api/tasks/{task['id']}"), json=fields, headers=user.headers
        )
        assert response.status_code == 200, response.text
        updated: dict[str, Any] = response.json()
        return updated

    async def create_at_rate(self, user: User, count: int, per_second: float) -> list[str]:
        """Create `count` tasks at `per_second` (open loop: a slow answer does not slow the
        next request); the ids of those created."""

        async def one(n: int) -> str | None:
            await asyncio.sleep(n / per_second)
            try:
                return str((await self.create_task(user, title=f"load {n}"))["id"])
            except (AssertionError, httpx.HTTPError):
                return None

        created = await asyncio.gather(*(one(n) for n in range(count)))
        return [task_id for task_id in created if task_id is not None]


@pytest.fixture
async def api(platform: PlatformStack) -> AsyncIterator[Api]:
    client = Api(platform)
    yield client
    await client.http.aclose()


async def websocket(url: str, user: User) -> ClientConnection:
    """A client of realtime at `url` (http://...), authenticated by subprotocol."""
    return await connect(
        url.replace("http://", "ws://") + "/ws",
        subprotocols=[Subprotocol("bearer"), Subprotocol(user.token)],
        open_timeout=10,
    )


async def pushed(
    socket: ClientConnection, count: int, kinds: set[str], seconds: float = WAIT_SECONDS
) -> list[dict[str, Any]]:
    """The next `count` pushed events whose type is in `kinds` (others are skipped)."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while len(found) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"only {found} of {count} {kinds} arrived in {seconds:.0f} s"
        message = json.loads(await _within(socket.recv(), left))
        if message["type"] == "sync":
            found += [e for e in message["events"] if e["type"] in kinds]
        elif message["type"] in kinds:
            found.append(message)
    return found


async def pushed_nothing(socket: ClientConnection, kinds: set[str], seconds: float = 1.0) -> bool:
    """True when no event of `kinds` arrives within `seconds`."""
    try:
        await pushed(socket, 1, kinds, seconds)
    except (AssertionError, TimeoutError):
        return True
    return False


async def _within(awaitable: Any, seconds: float) -> Any:
    return await asyncio.wait_for(awaitable, seconds)


async def eventually(check: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> Any:
    """Await `check()` until it returns something truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"no {what} after {seconds:.0f} s"
        await asyncio.sleep(0.2)
