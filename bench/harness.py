"""What the benchmarks share: a database, users with tokens, a fake Dapr sidecar, and
functions started the way Knative starts them (`functions-framework --asgi`)."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from todo import embedded_postgres
from todo.migrations import migrate
from todo.settings import Settings
from todo.tokens import issue_token

ROOT = Path(__file__).resolve().parent.parent
JWT_SECRET = "bench-" + "0123456789abcdef" * 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def database() -> Iterator[str]:
    """A fresh, migrated database: on BENCH_DATABASE_URL's server, or an embedded one."""
    given = os.environ.get("BENCH_DATABASE_URL")
    server = None
    with tempfile.TemporaryDirectory() as folder:
        if given:
            server_url = given
        else:
            server = embedded_postgres.start(Path(folder) / "postgres")
            server_url = server.get_uri()
        name = f"bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(embedded_postgres.ensure_database(server_url, name))
        url = (
            server_url.replace("/postgres?", f"/{name}?") if server else _with_db(server_url, name)
        )
        asyncio.run(migrate(url))
        try:
            yield url
        finally:
            asyncio.run(_drop(server_url, name))
            if server is not None:
                server.cleanup()


def _with_db(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _drop(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


async def make_users(url: str, count: int) -> list[tuple[uuid.UUID, str]]:
    """Users inserted directly (no password hashing) and a token for each."""
    settings = Settings(jwt_secret=JWT_SECRET)
    now = datetime.now(UTC)
    conn = await asyncpg.connect(url)
    users = []
    try:
        for i in range(count):
            user_id = uuid.uuid4()
            await conn.execute(
                "insert into users (id, email, password_hash, created_at, updated_at) "
                "values ($1, $2, 'x', $3, $3)",
                user_id,
                f"bench-{i}-{user_id.hex[:6]}@example.com",
                now,
            )
            token = issue_token(settings, user_id, ["user"], ["tasks:read", "tasks:write"], now)
            users.append((user_id, token))
    finally:
        await conn.close()
    return users


@contextmanager
def fake_sidecar(delay_seconds: float = 0.0) -> Iterator[int]:
    """A stand-in Dapr sidecar (bench/sidecar.py) in its own process, as the real one is a
    separate Go process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.sidecar:app", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=ROOT,
        env={**os.environ, "SIDECAR_DELAY_SECONDS": str(delay_seconds)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/")
        yield port
    finally:
        stop(process)


@contextmanager
def todo_dev(url: str, home: str) -> Iterator[str]:
    """`todo dev` on a free loopback port over the database at `url`, keeping its files in
    `home`; yields its address."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "JWT_SECRET": JWT_SECRET}
    env |= {"DATA_DIR": f"{home}/data", "LOG_LEVEL": "WARNING"}
    dev = subprocess.Popen(
        [str(Path(sys.executable).with_name("todo")), "dev", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{server}/ready", timeout=60)
        yield server
    finally:
        stop(dev)


def sidecar_log(port: int) -> list[dict[str, Any]]:
    """Every event the stand-in sidecar took, in arrival order."""
    taken: list[dict[str, Any]] = httpx.get(f"http://127.0.0.1:{port}/log", timeout=30).json()
    return taken


def start_function(
    target: str, source: Path, port: int, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """`functions-framework --asgi` as the container runs it: gunicorn, one uvicorn worker."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("functions-framework")),
            "--asgi",
            "--target",
            target,
            "--source",
            str(source),
            "--port",
            str(port),
        ],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_until_serving(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing answered at {url}")


class RawHttpClient:
    """A minimal HTTP/1.1 keep-alive client over one connection.

    httpx spends more CPU per request than the servers measured here (it tops out near
    550 requests/s on this machine), so load comes from this instead.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self._reader is not None
        lines = [f"{method} {path} HTTP/1.1", "Host: bench", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self._reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def met(ok: bool) -> str:
    """How a benchmark's last line ends."""
    return "met" if ok else "missed"
