"""schemathesis hooks for the stateful run of tests/test_schemathesis.py.

A sequence may create a task, delete it, then create again with the same generated
Idempotency-Key and body. The API then replays the first answer, as idempotency promises
(the same 201 and body, `Idempotent-Replayed: true`), and schemathesis, following the link
to the task it thinks it just made, reports a created resource that is not found. Each
create along the links gets a key of its own; the keys' validation is fuzzed in the
stateless phases.
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
