"""When to send a request again: which failures are worth it, and how long to wait."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from todo_client.errors import retry_after_seconds

# Only 503: the API's "try again" (database restarting, a pod not ready). Any other error
# answer says something about the request itself, and sending it again changes nothing.
RETRY_STATUSES = frozenset({503})


@dataclass(frozen=True)
class Retry:
    """Bounded exponential backoff with jitter that honours Retry-After.

    Only calls that are safe to repeat are retried: reads, and creates that carry an
    Idempotency-Key (the server answers a repeat with the first result).
    """

    attempts: int = 4
    base: float = 0.25
    cap: float = 5.0

    def should_retry(self, attempt: int, response: httpx.Response | None) -> bool:
        """`attempt` counts from 1; `response` is None when the connection failed."""
        if attempt >= self.attempts:
            return False
        return response is None or response.status_code in RETRY_STATUSES

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        asked = retry_after_seconds(response.headers.get("retry-after")) if response else None
        if asked is not None:
            return min(asked, self.cap)
        backoff = min(self.cap, self.base * 2.0 ** (attempt - 1))
        # Half fixed, half random: retries from many clients spread out, none comes at once.
        return backoff / 2 + random.uniform(0, backoff / 2)
