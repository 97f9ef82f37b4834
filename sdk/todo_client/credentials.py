"""The tokens a client holds, when to refresh them, and the hook that persists new ones."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from todo_client.models import TokenPair


@dataclass(frozen=True)
class Credentials:
    """An access token, the refresh token for the next pair, and when the access token
    expires (seconds since the epoch, None when unknown). `asdict`/`from_dict` round-trip it
    through a JSON file, which is how the CLI keeps a session between runs."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None

    @classmethod
    def from_pair(cls, pair: TokenPair, now: float) -> Credentials:
        return cls(pair.access_token, pair.refresh_token, now + pair.expires_in)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Credentials:
        return cls(data["access_token"], data.get("refresh_token"), data.get("expires_at"))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


CredentialsHook = Callable[[Credentials | None], None]


class Session:
    """The credentials one client uses, shared by its sync or async front.

    `generation` counts every change, so a caller that saw a 401 can tell whether another
    thread or task refreshed meanwhile: spending the refresh token twice would look like
    theft to the server, which then revokes the whole session.
    """

    def __init__(
        self,
        credentials: Credentials | None,
        on_change: CredentialsHook | None,
        refresh_margin: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.credentials = credentials
        self.generation = 0
        self._on_change = on_change
        self._margin = refresh_margin
        self._clock = clock

    @property
    def headers(self) -> dict[str, str]:
        if self.credentials is None:
            return {}
        return {"authorization": f"Bearer {self.credentials.access_token}"}

    @property
    def refreshable(self) -> bool:
        return self.credentials is not None and self.credentials.refresh_token is not None

    def expiring(self) -> bool:
        """Whether the access token expires within the margin and a refresh could replace it."""
        expires_at = self.credentials.expires_at if self.credentials else None
        return (
            self.refreshable
            and expires_at is not None
            and self._clock() >= expires_at - self._margin
        )

    def store(self, pair: TokenPair | None) -> None:
        self.credentials = None if pair is None else Credentials.from_pair(pair, self._clock())
        self.generation += 1
        if self._on_change is not None:
            self._on_change(self.credentials)
