"""Browsers on other origins (CORS): what a page of an allowed origin may do and read, and
that nothing else is let in. Each test asserts the status and headers a browser acts on."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Account, rewire
from tests.dev_process import DevProcess
from todo.runtime import Runtime
from todo.settings import Origin
from todo_cli.dev import Stack, own_origins

APP = Origin("https://app.example.com")
OTHER = "https://evil.example.com"
TASK = f"/api/tasks/{uuid.UUID(int=1)}"


def preflight_headers(origin: str, method: str) -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": "authorization,content-type,if-match",
    }


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def listed(value: str) -> set[str]:
    return {part.strip() for part in value.split(",")}


@pytest.fixture
def allowing(rt: Runtime) -> Runtime:
    return rewire(rt, cors_allowed_origins=(APP,))


@pytest.fixture
async def update_task_alone(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """update_task's app by itself, as deployed behind the ingress."""
    transport = httpx.ASGITransport(app=stack.app("update_task"))
    async with httpx.AsyncClient(transport=transport, base_url="http://todo.test") as c:
        yield c


async def test_without_allowed_origins_no_answer_carries_cors_headers(
    client: httpx.AsyncClient, alice: Account
) -> None:
    asked = await client.options("/api/tasks", headers=preflight_headers(str(APP), "POST"))
    assert asked.status_code == 405  # an OPTIONS like any other: the browser refuses
    assert cors_headers(asked) == {}
    listing = await client.get("/api/tasks", headers={**alice.headers, "origin": str(APP)})
    assert listing.status_code == 200
    assert cors_headers(listing) == {}
    assert "vary" not in listing.headers


@pytest.mark.usefixtures("allowing")
async def test_an_allowed_origin_is_answered_a_preflight_for_a_public_route(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.options(TASK, headers=preflight_headers(APP, "PATCH"))
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == APP
    assert listed(answer.headers["access-control-allow-methods"]) == {"DELETE", "GET", "PATCH"}
    assert listed(answer.headers["access-control-allow-headers"]) >= {
        "Authorization",
        "Content-Type",
        "If-Match",
        "Idempotency-Key",
    }
    assert 600 <= int(answer.headers["access-control-max-age"]) <= 7200
    assert "Origin" in listed(answer.headers["vary"])
    assert "access-control-allow-credentials" not in answer.headers
    assert answer.content == b""


@pytest.mark.usefixtures("allowing")
@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/tasks", {"GET", "POST"}),
        (TASK, {"DELETE", "GET", "PATCH"}),
        (f"{TASK}/complete", {"POST"}),
        ("/api/auth/me", {"DELETE", "GET", "PATCH"}),
        (f"/api/reminders/{uuid.UUID(int=1)}", {"DELETE"}),
        ("/api/sync", {"GET"}),
    ],
)
async def test_a_preflight_allows_the_methods_of_its_route(
    client: httpx.AsyncClient, path: str, methods: set[str]
) -> None:
    answer = await client.options(path, headers=preflight_headers(APP, sorted(methods)[0]))
    assert answer.status_code == 204
    assert listed(answer.headers["access-control-allow-methods"]) == methods


@pytest.mark.usefixtures("allowing")
async def test_a_function_answers_the_preflight_of_a_path_it_shares_with_another(
    update_task_alone: httpx.AsyncClient,
) -> None:
    # The ingress sends OPTIONS /api/tasks/{id} to update_task; GET there is query_tasks'.
    answer = await update_task_alone.options(TASK, headers=preflight_headers(APP, "GET"))
    assert answer.status_code == 204
    assert listed(answer.headers["access-control-allow-methods"]) == {"DELETE", "GET", "PATCH"}


@pytest.mark.usefixtures("allowing")
async def test_an_allowed_origin_may_read_answers_and_the_headers_clients_need(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(
        "/api/tasks",
        json={"title": "from the browser"},
        headers={**alice.headers, "origin": APP, "idempotency-key": "k1"},
    )
    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == APP
    exposed = listed(created.headers["access-control-expose-headers"])
    assert {"ETag", "Location", "Retry-After", "X-Request-Id", "Idempotent-Replayed"} <= exposed
    assert "Origin" in listed(created.headers["vary"])
    assert "access-control-allow-credentials" not in created.headers
    # Errors too, or a page could not tell why it failed.
    refused = await client.get("/api/tasks", headers={"origin": APP})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == APP
    assert {"WWW-Authenticate"} <= listed(refused.headers["access-control-expose-headers"])


@pytest.mark.usefixtures("allowing")
async def test_a_disallowed_origin_gets_no_cors_headers(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for origin in (OTHER, "null", APP.replace("https:", "http:")):
        asked = await client.options("/api/tasks", headers=preflight_headers(origin, "POST"))
        assert asked.status_code == 405
        assert cors_headers(asked) == {}
        listing = await client.get("/api/tasks", headers={**alice.headers, "origin": origin})
        assert listing.status_code == 200
        assert cors_headers(listing) == {}
        # The answer still varies by Origin, so no cache hands it to an allowed origin.
        assert "Origin" in listed(listing.headers["vary"])


@pytest.mark.usefixtures("allowing")
async def test_sidecar_platform_and_unknown_paths_never_answer_cors(
    client: httpx.AsyncClient, stack: Stack
) -> None:
    for name, method, path in [
        ("tick_reminders", "OPTIONS", "/tick"),
        ("tick_reminders", "POST", "/tick"),
        ("process_event", "POST", "/events"),
        ("notify", "POST", "/events"),
        ("process_event", "POST", "/events/dead-letter"),
    ]:
        transport = httpx.ASGITransport(app=stack.app(name))
        async with httpx.AsyncClient(transport=transport, base_url="http://todo.test") as fn:
            asked = await fn.options(path, headers=preflight_headers(APP, method))
            assert asked.status_code != 204
            assert cors_headers(asked) == {}
            sent = await fn.request(method, path, headers={"origin": APP})
            assert cors_headers(sent) == {}, (name, method, path)
    for path in ("/health", "/metrics", "/api/nothing-here"):
        asked = await client.options(path, headers=preflight_headers(APP, "GET"))
        assert asked.status_code in (404, 405)
        assert cors_headers(asked) == {}
        assert cors_headers(await client.get(path, headers={"origin": APP})) == {}


@pytest.fixture
def dev(database_url: str, tmp_path: Path) -> Iterator[DevProcess]:
    """`todo dev` on a free port of 127.0.0.1, with no origins of its own configured."""
    unset = ("JWT_SECRET", "CORS_ALLOWED_ORIGINS")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(DATABASE_URL=database_url, DATA_DIR=str(tmp_path / "data"))
    process = DevProcess(env, tmp_path)
    yield process
    if process.process.poll() is None:
        process.interrupt()


def test_todo_dev_allows_pages_of_its_own_origins(dev: DevProcess) -> None:
    dev.wait_ready()
    tasks = f"{dev.url}/api/tasks"
    for origin in (f"http://127.0.0.1:{dev.port}", f"http://localhost:{dev.port}"):
        answer = httpx.options(tasks, headers=preflight_headers(origin, "POST"))
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == origin
        assert listed(answer.headers["access-control-allow-methods"]) == {"GET", "POST"}
    other = httpx.options(tasks, headers=preflight_headers(OTHER, "POST"))
    assert other.status_code == 405
    assert cors_headers(other) == {}


def test_todo_dev_on_another_address_also_allows_that_name() -> None:
    assert own_origins("::1", 8081) == (
        "http://127.0.0.1:8081",
        "http://localhost:8081",
        "http://[::1]:8081",
    )
    assert own_origins("0.0.0.0", 8080) == ("http://127.0.0.1:8080", "http://localhost:8080")
