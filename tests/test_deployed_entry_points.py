"""Each function served the way Knative runs it: functions-framework loading main.py from
its file (FUNCTION_SOURCE / FUNCTION_TARGET), not imported as a package module."""

from __future__ import annotations

import asyncio
import importlib.metadata
import signal
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from functions_framework.aio import create_asgi_app
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import functions
from bench.harness import fake_sidecar, free_port, sidecar_log, start_function, wait_until_serving
from tests.conftest import JWT_SECRET, Account
from todo.runtime import Runtime
from todo.tokens import issue_token

ROOT = Path(functions.__file__).parent


@pytest.mark.parametrize("name", functions.FUNCTIONS)
async def test_each_function_loads_from_its_file_and_serves_health(rt: object, name: str) -> None:
    app = create_asgi_app(target=name, source=str(ROOT / name / "main.py"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://fn"
    ) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/ready")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200


async def test_a_deployed_function_serves_only_its_own_routes(rt: object, alice: Account) -> None:
    create = create_asgi_app(target="create_task", source=str(ROOT / "create_task" / "main.py"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create), base_url="http://fn"
    ) as client:
        created = await client.post("/api/tasks", json={"title": "direct"}, headers=alice.headers)
        assert created.status_code == 201
        # Listing belongs to query_tasks: this function knows only POST on /api/tasks.
        listing = await client.get("/api/tasks", headers=alice.headers)
        assert listing.status_code == 405
        assert listing.headers["content-type"] == "application/problem+json"
        assert (await client.get("/api/search?q=x", headers=alice.headers)).status_code == 404


def test_a_loaded_function_leaves_its_imports_to_no_full_collection() -> None:
    """functions-framework loads the module, then its server forks the worker: what the
    imports made is frozen, so the worker's first full collection has nothing of it to walk
    (unfrozen, that walk is ~20 ms of the first request)."""
    script = f"""
import gc, sys
from functions_framework.aio import create_asgi_app
create_asgi_app(target="create_task", source={str(ROOT / "create_task" / "main.py")!r})
print(gc.get_freeze_count(), len(gc.get_objects(generation=2)))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT.parent
    ).stdout.split()
    frozen, left_for_full_collection = map(int, out)
    assert frozen > 20_000
    assert left_for_full_collection < 1_000


def image_distributions() -> set[str]:
    """What the image installs: pyproject's dependencies, as the Dockerfile reads them, and
    theirs (with the extras asked for), as installed here."""
    pyproject = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
    # Each requirement with the extras of the distribution that asks for it.
    pending = [(line, {""}) for line in pyproject["project"]["dependencies"]]
    found: set[tuple[str, str]] = set()
    while pending:
        line, asked = pending.pop()
        requirement = Requirement(line)
        marker = requirement.marker
        if marker and not any(marker.evaluate({"extra": extra}) for extra in asked):
            continue
        name = canonicalize_name(requirement.name)
        extras = {""} | requirement.extras
        if {(name, extra) for extra in extras} <= found:
            continue
        found |= {(name, extra) for extra in extras}
        pending += [(dep, extras) for dep in importlib.metadata.requires(name) or []]
    return {name for name, _ in found}


def test_the_image_has_no_cryptography_for_pyjwt_to_import() -> None:
    """pyjwt imports cryptography with itself whenever it is installed, ~50 ms of every
    cold start; the image installs nothing that brings it (the dev extra does)."""
    distributions = image_distributions()
    assert {"pyjwt", "httpx", "functions-framework"} <= distributions
    assert "cryptography" not in distributions


def test_the_event_functions_load_and_check_senders_without_cryptography() -> None:
    """As in the image: notify and process-event load, and a sender's token is read and
    refused or sent for review, with cryptography not there to import."""
    script = f"""
import asyncio, sys
sys.modules["cryptography"] = None  # not installed
from datetime import UTC, datetime
from functions_framework.aio import create_asgi_app
for name in ("notify", "process_event"):
    create_asgi_app(target=name, source=str({str(ROOT)!r} + f"/{{name}}/main.py"))
import jwt
from todo.errors import Forbidden, TokenReviewUnavailable
from todo.sender_identity import SenderIdentity
from todo.settings import Settings

settings = Settings.from_env(
    {{"EVENT_AUDIENCE": "a", "EVENT_SENDERS": "s", "EVENT_REVIEW_URL": "http://127.0.0.1:9/"}}
)
now = datetime.now(UTC)

async def answer(sender):
    claims = {{"sub": sender, "aud": ["a"], "exp": int(now.timestamp()) + 600}}
    try:
        await SenderIdentity(settings).verify(jwt.encode(claims, "k" * 32, "HS256"), now)
    except (Forbidden, TokenReviewUnavailable) as exc:
        return type(exc).__name__

print(asyncio.run(answer("stranger")), asyncio.run(answer("s")), jwt.algorithms.has_crypto)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT.parent
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["Forbidden", "TokenReviewUnavailable", "False"]


async def test_a_function_told_to_stop_publishes_every_committed_event_first(
    rt: Runtime, alice: Account, bob: Account
) -> None:
    """SIGTERM, as Knative sends at scale-down: gunicorn's uvicorn worker finishes its
    requests, asyncio.run cancels what is left, and the publisher's lanes send what they
    hold (within their grace period) before the process ends."""
    port = free_port()
    with fake_sidecar(delay_seconds=0.2) as sidecar:
        process = start_function(
            "create_task",
            ROOT / "create_task" / "main.py",
            port,
            {
                "DATABASE_URL": rt.settings.database_url or "",
                "JWT_SECRET": JWT_SECRET,
                "DAPR_HTTP_PORT": str(sidecar),
                "PUBLISH_CONCURRENCY": "1",
            },
        )
        try:
            await asyncio.to_thread(wait_until_serving, f"http://127.0.0.1:{port}/health")
            # Tokens for the process's own (real) clock, not the tests' manual one.
            now = datetime.now(UTC)
            tokens = [
                issue_token(rt.settings, user.id, ["user"], ["tasks:write"], now)
                for user in (alice, bob)
            ]
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                for i in range(8):
                    for token in tokens:
                        created = await client.post(
                            "/api/tasks",
                            json={"title": f"t{i}"},
                            headers={"authorization": f"Bearer {token}"},
                        )
                        assert created.status_code == 201
            before_stop = len(await asyncio.to_thread(sidecar_log, sidecar))
            process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(process.wait, 30) == 0
        finally:
            if process.poll() is None:
                process.kill()
        taken = await asyncio.to_thread(sidecar_log, sidecar)

    async with rt.database.transaction() as conn:
        rows = await conn.fetch("select id, published_at from events")
    assert len(rows) == 16
    assert before_stop < len(rows)  # the sidecar was behind when the stop came
    assert {str(r["id"]) for r in rows} <= {e["id"] for e in taken}
    assert all(r["published_at"] is not None for r in rows)


@pytest.mark.parametrize("path", ["/api/tasks/a%0Ab", "/api/tasks/%0D%0A", "/api/x%0Ay"])
async def test_a_path_with_a_line_break_is_answered_by_the_function(
    rt: object, alice: Account, path: str
) -> None:
    """Starlette's catch-all route, which functions-framework serves every path through, does
    not match a decoded line break: such a path met Starlette's plain-text 404 instead of the
    function and its problem document."""
    query = create_asgi_app(target="query_tasks", source=str(ROOT / "query_tasks" / "main.py"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=query), base_url="http://fn"
    ) as client:
        answer = await client.get(path, headers=alice.headers)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
