"""Delivery guarantees through the real sidecars: the sidecar token, and an event that keeps
failing going to its dead-letter topic, `todo dlq list` and `todo dlq replay`."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from stack.platform import PlatformStack
from tests.platform.conftest import Api, eventually
from tests.test_operator_cli import todo

# The resiliency policy's retries (dapr/resiliency.yaml) come first: minutes at most.
DEAD_LETTER_SECONDS = 240.0


async def test_deliveries_and_publishes_without_the_token_are_refused(
    platform: PlatformStack, api: Api
) -> None:
    event = {"specversion": "1.0", "id": "x", "source": "test", "type": "todo.task.created"}
    to_app = await api.http.post(platform.instance("process-event").url + "/events", json=event)
    assert to_app.status_code == 401, to_app.text

    sidecar = platform.instance("create-task").dapr_url
    publish = f"{sidecar}/v1.0/publish/pubsub/task.events"
    refused = await api.http.post(publish, json=event)
    assert refused.status_code == 401, refused.text


async def test_an_event_that_keeps_failing_is_dead_lettered_and_replays(
    platform: PlatformStack, api: Api, db: asyncpg.Connection
) -> None:
    title = f"poison-{uuid.uuid4().hex[:8]}"
    # A fault only this event meets: the audit log refuses it, as a bug or bad data would.
    await db.execute(
        f"""
        create function refuse_{title.replace("-", "_")}() returns trigger language plpgsql as $$
        begin
            if new.after->>'title' = '{title}' then raise exception 'refused for the test'; end if;
            return new;
        end $$;
        create trigger refuse_{title.replace("-", "_")} before insert on audit_log
            for each row execute function refuse_{title.replace("-", "_")}();
        """
    )
    user = await api.register()
    task = await api.create_task(user, title=title)

    async def dead_letter() -> Any:
        return await db.fetchrow(
            "select id, topic, event_type from dead_letters where event->>'subject' = $1",
            task["id"],
        )

    letter = await eventually(dead_letter, "dead letter", DEAD_LETTER_SECONDS)
    assert (letter["topic"], letter["event_type"]) == ("task.events", "todo.task.created")
    assert str(letter["id"]) in todo(platform.database_url, "dlq", "list")

    await db.execute(f"drop trigger refuse_{title.replace('-', '_')} on audit_log")
    # As an operator would in one of the functions' pods: the sidecar there sends it now.
    pod = {
        "DAPR_HTTP_PORT": str(platform.instance("process-event").ports.dapr_http),
        "DAPR_API_TOKEN": platform.dapr_api_token,
    }
    replayed = todo(platform.database_url, "dlq", "replay", str(letter["id"]), env=pod)
    assert "relayed 1 events through the sidecar" in replayed

    async def audited() -> Any:
        return await db.fetchval("select count(*) from audit_log where subject = $1", task["id"])

    assert await eventually(audited, "audit row after replay") == 1
