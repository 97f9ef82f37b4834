"""The built web app at `/` in `todo dev`: caching, the app's routes, the API kept apart, and
a Content-Security-Policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from realtime.app import create_app
from todo.runtime import Runtime
from todo.web_app import BUILD_HINT, IMMUTABLE, WebApp
from todo_cli.dev import Stack, banner

INDEX = "<!doctype html><title>todo</title><script type=module src=/assets/app-1a2b.js></script>"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "app-1a2b.js").write_text("console.log('app')")
    (tmp_path / "manifest.webmanifest").write_text("{}")
    (tmp_path.parent / "secret.txt").write_text("outside dist")
    return tmp_path


@pytest.fixture
async def web(rt: Runtime, stack: Stack, dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    served = stack.web
    stack.web = WebApp(dist)
    transport = httpx.ASGITransport(app=stack)
    async with httpx.AsyncClient(transport=transport, base_url="http://todo.test") as c:
        yield c
    stack.web = served


async def test_index_is_revalidated_on_every_use(web: httpx.AsyncClient) -> None:
    response = await web.get("/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_cached_for_a_year_unchanged(web: httpx.AsyncClient) -> None:
    response = await web.get("/assets/app-1a2b.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == IMMUTABLE
    assert "javascript" in response.headers["content-type"]


async def test_files_at_the_top_are_revalidated(web: httpx.AsyncClient) -> None:
    response = await web.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/tasks", "/settings/timezone", "/task/3f2a"])
async def test_a_path_of_the_app_opens_the_app(web: httpx.AsyncClient, path: str) -> None:
    response = await web.get(path)
    assert (response.status_code, response.text) == (200, INDEX)
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", ["/assets/app-0000.js", "/icon-512.png", "/../secret.txt"])
async def test_a_missing_file_is_404_not_the_app(web: httpx.AsyncClient, path: str) -> None:
    response = await web.get(path)
    assert response.status_code == 404
    assert "outside dist" not in response.text


async def test_the_apis_paths_never_fall_back_to_the_app(web: httpx.AsyncClient) -> None:
    unknown = await web.get("/api/nothing-here")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert (await web.get("/api/openapi.json")).json()["openapi"].startswith("3.")
    assert (await web.post("/tasks")).headers["content-type"] == "application/problem+json"


async def test_every_answer_carries_a_strict_content_security_policy(
    web: httpx.AsyncClient,
) -> None:
    for path in ("/", "/assets/app-1a2b.js", "/tasks", "/nothing.png"):
        policy = (await web.get(path)).headers["content-security-policy"]
        directives = dict(d.split(" ", 1) for d in policy.split("; "))
        assert directives["default-src"] == "'none'"
        assert directives["script-src"] == "'self'"
        assert directives["connect-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert "unsafe" not in policy


async def test_without_a_build_the_page_says_how_to_make_one(
    rt: Runtime, stack: Stack, tmp_path: Path
) -> None:
    served = stack.web
    stack.web = WebApp(tmp_path / "nothing")
    try:
        transport = httpx.ASGITransport(app=stack)
        async with httpx.AsyncClient(transport=transport, base_url="http://todo.test") as c:
            response = await c.get("/")
    finally:
        stack.web = served
    assert (response.status_code, response.text) == (404, BUILD_HINT)
    assert BUILD_HINT in banner("http://127.0.0.1:8080", "embedded", 60, web_built=False)
    assert "web app:   http://127.0.0.1:8080/" in banner("http://127.0.0.1:8080", "embedded", 60)


@pytest.fixture
async def realtime(rt: Runtime, dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    """realtime as the cluster runs it: Traefik sends it every path outside /api and /ws."""
    transport = httpx.ASGITransport(app=create_app(WebApp(dist)))
    async with httpx.AsyncClient(transport=transport, base_url="http://todo.test") as c:
        yield c


@pytest.mark.parametrize("path", ["/", "/tasks", "/settings/timezone"])
async def test_realtime_serves_the_app_in_the_cluster(
    realtime: httpx.AsyncClient, path: str
) -> None:
    response = await realtime.get(path)
    assert (response.status_code, response.text) == (200, INDEX)
    assert response.headers["cache-control"] == "no-cache"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    asset = await realtime.get("/assets/app-1a2b.js")
    assert (asset.status_code, asset.headers["cache-control"]) == (200, IMMUTABLE)
    assert (await realtime.head(path)).status_code == 200


@pytest.mark.parametrize("path", ["/dapr/subscribe", "/dapr/config", "/events", "/ready"])
async def test_realtime_keeps_its_own_paths(realtime: httpx.AsyncClient, path: str) -> None:
    """daprd reads GET /dapr/subscribe and /dapr/config when it starts: a page there would
    be taken for a broken configuration."""
    response = await realtime.get(path)
    assert response.text != INDEX
    assert response.headers["content-type"] in ("application/json", "application/problem+json")
    assert (await realtime.post("/tasks")).headers["content-type"] == "application/problem+json"
