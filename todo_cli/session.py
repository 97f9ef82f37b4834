"""The signed-in client a user's command works with, and the SDK's errors as exit codes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
from todo_client import (
    Client,
    Conflict,
    Credentials,
    Forbidden,
    NotFound,
    RateLimited,
    StaleVersion,
    TodoError,
    Unauthenticated,
    ValidationError,
)

from todo_cli import config
from todo_cli.exits import AUTH, CONFLICT, NOT_FOUND, SERVER, USAGE, Failure


def connect(server: str, credentials: Credentials | None = None, **options: Any) -> Client:
    """A client of `server`. One over plain http:// has no TLS to verify, so it skips loading
    the CA bundle, 36 ms of every command's start (bench/cli.py); the SDK only ever sends
    paths under that address, so no request of it can go out over https."""
    plain = httpx.HTTPTransport(verify=False) if server.startswith("http://") else None
    return Client(server, credentials=credentials, transport=plain, **options)


class Session:
    """One account on one server, as `todo login` saved it. New tokens from a refresh are
    written back through the SDK's `on_credentials` hook; a session the server ended is
    forgotten."""

    def __init__(self, server: str) -> None:
        saved = config.load()
        if saved is None:
            raise Failure("not logged in: run `todo login`", AUTH)
        if saved.server != server:
            raise Failure(
                f"logged in to {saved.server}, not {server}: run `todo login --server {server}`",
                AUTH,
            )
        self.server = server
        self.saved = saved
        self.credentials = Credentials.from_dict(saved.credentials)

    @property
    def timezone(self) -> str:
        return self.saved.timezone

    def keep(self, credentials: Credentials | None) -> None:
        if credentials is None:
            config.forget()
            return
        self.saved = replace(self.saved, credentials=credentials.as_dict())
        config.save(self.saved)

    def client(self) -> Client:
        return connect(self.server, self.credentials, on_credentials=self.keep)


@contextmanager
def reporting(server: str) -> Iterator[None]:
    """The SDK's exceptions as one line and an exit code (docs/cli.md)."""
    try:
        yield
    except Unauthenticated:
        raise Failure("the session has ended: run `todo login`", AUTH) from None
    except RateLimited as exc:
        wait = f"; try again in {exc.retry_after:.0f} s" if exc.retry_after else ""
        raise Failure(f"too many attempts{wait}", AUTH) from None
    except Forbidden as exc:
        raise Failure(exc.detail or exc.title, AUTH) from None
    except NotFound:
        raise Failure("not found", NOT_FOUND) from None
    except StaleVersion as exc:
        now = f" (it is at version {exc.current_version})" if exc.current_version else ""
        raise Failure(
            f"the task changed since you read it{now}: look again and repeat", CONFLICT
        ) from None
    except Conflict as exc:
        raise Failure(exc.detail or exc.title, CONFLICT) from None
    except ValidationError as exc:
        fields = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
        raise Failure(fields or exc.detail or exc.title, USAGE) from None
    except TodoError as exc:
        raise Failure(f"the server failed: {exc}", SERVER) from None
    except httpx.TransportError as exc:
        raise Failure(f"cannot reach {server}: {exc or type(exc).__name__}", SERVER) from None


@contextmanager
def signed_in(given_server: str | None) -> Iterator[tuple[Session, Client]]:
    """The saved session and a client on it, with the SDK's errors reported."""
    server = config.server_url(given_server)
    with reporting(server):
        session = Session(server)
        with session.client() as client:
            yield session, client
