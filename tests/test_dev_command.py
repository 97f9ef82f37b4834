"""`todo dev` as a user runs it: a real process, a real port, Ctrl-C, and a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.dev_process import DevProcess


@pytest.fixture
def dev_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JWT_SECRET")}
    env["DATA_DIR"] = str(tmp_path / "data")
    yield env
    # A test that failed midway must not leave a server (and its Postgres) running.
    for process in DevProcess.started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    DevProcess.started.clear()


def test_dev_runs_on_embedded_postgres_stops_cleanly_and_keeps_data(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    first = DevProcess(dev_env, tmp_path)
    first.wait_ready()
    registered = httpx.post(
        f"{first.url}/api/auth/register", json={"email": "dev@example.com", "password": PASSWORD}
    )
    assert registered.status_code == 201
    token = registered.json()["access_token"]
    created = httpx.post(
        f"{first.url}/api/tasks",
        json={"title": "survive a restart"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201
    assert httpx.get(f"{first.url}/api/openapi.json").status_code == 200
    output = first.interrupt()
    assert f"http://127.0.0.1:{first.port}" in output
    assert "/api/auth/register" in output
    assert f"todo register --server http://127.0.0.1:{first.port}" in output
    assert "/api/openapi.json" in output

    data = tmp_path / "data"
    assert (data / "jwt-secret").exists()
    assert not (data / "postgres" / "postmaster.pid").exists(), "embedded Postgres still running"

    second = DevProcess(dev_env, tmp_path)
    second.wait_ready()
    # The same secret: the old token still works, and the task is still there.
    listed = httpx.get(f"{second.url}/api/tasks", headers={"authorization": f"Bearer {token}"})
    assert [t["title"] for t in listed.json()["items"]] == ["survive a restart"]
    second.interrupt()


def test_dev_uses_database_url_when_set(
    dev_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    dev = DevProcess(
        {**dev_env, "DATABASE_URL": database_url, "JWT_SECRET": "given-secret-" + "x" * 32},
        tmp_path,
    )
    dev.wait_ready()
    registered = httpx.post(
        f"{dev.url}/api/auth/register", json={"email": "url@example.com", "password": PASSWORD}
    )
    assert registered.status_code == 201
    output = dev.interrupt()
    assert "DATABASE_URL" in output


def test_dev_refuses_a_short_jwt_secret(
    dev_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    dev = DevProcess({**dev_env, "DATABASE_URL": database_url, "JWT_SECRET": "short"}, tmp_path)
    output, _ = dev.process.communicate(timeout=60)
    assert dev.process.returncode != 0
    assert "JWT_SECRET must be at least 32 characters" in output
    assert not (tmp_path / "data" / "postgres").exists()


def test_dev_on_a_taken_port_says_so_in_one_line_and_starts_nothing(
    dev_env: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        dev = DevProcess(dev_env, tmp_path, port=port)
        output, _ = dev.process.communicate(timeout=60)
    assert dev.process.returncode != 0
    [line] = output.splitlines()
    suggested = int(line.rsplit("--port ", 1)[1])
    assert line == f"todo dev: port {port} is in use; pick another with --port {suggested}"
    assert suggested != port
    with socket.socket() as free:
        free.bind(("127.0.0.1", suggested))
    assert not (tmp_path / "data" / "postgres").exists(), "Postgres started in vain"
