"""Where the command line talks to and what it keeps between runs: the server address and
the signed-in session, in `$XDG_CONFIG_HOME/todo/credentials.json` (else ~/.config/todo)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEFAULT_SERVER = "http://127.0.0.1:8080"  # `todo dev`, the local stack


def server_url(given: str | None) -> str:
    """`--server`, else TODO_SERVER, else the local stack."""
    return (given or os.environ.get("TODO_SERVER") or DEFAULT_SERVER).rstrip("/")


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "todo"


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


@dataclass(frozen=True)
class Saved:
    """A signed-in session: which server and account, the account's time zone (dates are
    shown in it), and the SDK's credentials as `Credentials.as_dict` writes them."""

    server: str
    email: str
    timezone: str
    credentials: dict[str, Any]


def load() -> Saved | None:
    try:
        return Saved(**json.loads(credentials_path().read_text()))
    except (FileNotFoundError, ValueError, TypeError):  # none, or not one this version wrote
        return None


def save(saved: Saved) -> None:
    """Write the file readable by its owner only, from its first byte: it is created 0600
    under a temporary name and renamed over the old one, so no reader ever sees a half."""
    path = credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(asdict(saved), file)
    os.replace(temporary, path)


def forget() -> None:
    credentials_path().unlink(missing_ok=True)
