"""A stand-in Dapr sidecar that answers the publish APIs and records what reached it.

It takes Dapr's bulk publish (`/v1.0-alpha1/publish/bulk/<pubsub>/<topic>`) and single
publish (`/v1.0/publish/<pubsub>/<topic>`) and answers 204. Like daprd's default bulk
publisher, which sends a request's entries to the broker from parallel goroutines, it takes
one request's entries in no particular order (shuffled), so a publisher that relies on the
order inside one request shows up as inversions. `GET /log` returns every event taken, in
arrival order, with its arrival time. SIDECAR_DELAY_SECONDS makes each request that slow.

    python -m uvicorn bench.sidecar:app --port 3500
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from typing import Any

DELAY = float(os.environ.get("SIDECAR_DELAY_SECONDS", "0"))
BULK = "/v1.0-alpha1/publish/bulk/"
SINGLE = "/v1.0/publish/"

taken: list[dict[str, Any]] = []


def _record(event: dict[str, Any], topic: str) -> None:
    taken.append(
        {
            "id": event["id"],
            "userid": event.get("userid"),
            "sequence": event.get("sequence"),
            "time": event.get("time"),
            "topic": topic,
            "arrived": time.time(),
        }
    )


async def _body(receive: Any) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _answer(send: Any, status: int, body: bytes = b"") -> None:
    headers = [(b"content-type", b"application/json")] if body else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    body = await _body(receive)
    if scope["method"] == "GET" and path == "/log":
        await _answer(send, 200, json.dumps(taken).encode())
        return
    if scope["method"] == "POST" and path.startswith((BULK, SINGLE)):
        if DELAY:
            await asyncio.sleep(DELAY)
        topic = path.rsplit("/", 1)[1]
        if path.startswith(BULK):
            entries = json.loads(body)
            random.shuffle(entries)
            for entry in entries:
                _record(entry["event"], topic)
        else:
            _record(json.loads(body), topic)
    await _answer(send, 204)
