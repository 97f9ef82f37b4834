"""schemathesis against a real `todo dev`, with every check it has, signed in and not.

It generates requests from the published OpenAPI document (its examples, the boundaries of
every schema, valid and invalid fuzzed ones) and checks each answer: never a server error,
every status and body as documented, auth enforced. Bounded in examples per operation and
in time; the seed is fixed so a failure reproduces (`st replay` prints how). The stateful
phase (sequences of calls along the document's links: create, then read, change, complete,
delete what was created) runs on its own, signed in, as a fresh user.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, scratch_database
from tests.dev_process import DevProcess

CONFIG = Path(__file__).with_name("schemathesis.toml")
ROOT = Path(__file__).resolve().parent.parent
ST = Path(sys.executable).with_name("st")


@pytest.fixture(scope="module")
async def dev_database(server_url: str) -> AsyncIterator[str]:
    async with scratch_database(server_url, "todo_schemathesis") as url:
        yield url


@pytest.fixture(scope="module")
def dev_server(dev_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "PATH": str(Path(sys.executable).parent),
        "DATABASE_URL": dev_database,
        "DATA_DIR": str(tmp_path_factory.mktemp("schemathesis")),
        "LOG_LEVEL": "WARNING",
    }
    dev = DevProcess(env, Path(__file__).resolve().parent.parent)
    try:
        dev.wait_ready()
        yield dev.url
    finally:
        dev.interrupt()


def schemathesis(
    url: str,
    *options: str,
    phases: str = "examples,coverage,fuzzing",
    max_seconds: int = 120,
    hooks: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if hooks is not None:
        env["SCHEMATHESIS_HOOKS"] = hooks
        env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [
            str(ST),
            "--config-file",
            str(CONFIG),
            "run",
            f"{url}/api/openapi.json",
            "--checks",
            "all",
            "--phases",
            phases,
            "--seed",
            "20261201",
            "--generation-database",
            "none",
            "--max-time",
            str(max_seconds),
            "--request-timeout",
            "10",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tempfile.gettempdir(),  # its cache lands in the working directory
        env=env,
    )


def signed_in(url: str, email: str) -> str:
    registered = httpx.post(f"{url}/api/auth/register", json={"email": email, "password": PASSWORD})
    return f"Authorization: Bearer {registered.json()['access_token']}"


def test_schemathesis_finds_nothing_when_signed_in(dev_server: str) -> None:
    auth = signed_in(dev_server, "schemathesis@example.com")
    run = schemathesis(dev_server, "--max-examples", "12", "-H", auth)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout or " passed" in run.stdout


def test_schemathesis_finds_nothing_when_signed_out(dev_server: str) -> None:
    run = schemathesis(dev_server, "--max-examples", "5")
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-2000:]


def test_schemathesis_finds_nothing_along_the_links(dev_server: str) -> None:
    auth = signed_in(dev_server, "schemathesis-stateful@example.com")
    run = schemathesis(
        dev_server,
        "--max-examples",
        "10",
        "-H",
        auth,
        phases="stateful",
        max_seconds=60,
        hooks="tests.schemathesis_hooks",
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-2000:]
    assert "Stateful" in run.stdout
