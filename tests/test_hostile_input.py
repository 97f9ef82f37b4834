"""Input no client should send, answered with a 4xx naming the field, never a 500: times
outside the years the pipeline computes with, NUL characters, numbers JSON should not
carry, nesting that exhausts the stack, sequence numbers past a bigint, forged cursors.
One user's bad input never stops the reminder tick for anyone else."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Account, CreateTask, MakeUser, rewire, settle
from tests.test_tick import tick
from todo.clock import ManualClock
from todo.runtime import Runtime
from todo_cli.dev import Stack, call_app

NUL = "a\u0000b"


def field_errors(response: httpx.Response) -> list[str]:
    """The fields a 422 names, after checking it is a validation problem."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "/problems/validation-error"
    return [error["field"] for error in body["errors"]]


async def snooze_a_reminder(
    client: httpx.AsyncClient, account: Account, create_task: CreateTask, body: dict[str, Any]
) -> httpx.Response:
    """Snooze a new task's reminder with `body`."""
    task = await create_task(account, reminders=[{"remind_at": "2030-01-01T00:00:00Z"}])
    listed = await client.get(
        "/api/reminders", params={"task_id": task["id"]}, headers=account.headers
    )
    reminder = listed.json()["items"][0]
    return await client.post(
        f"/api/reminders/{reminder['id']}/snooze", json=body, headers=account.headers
    )


def forged_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Times out of range -----------------------------------------------------------------------

OUT_OF_RANGE = [
    "0001-01-01T12:00:00Z",
    "0001-01-01T00:00:00+14:00",  # before year 1 once in UTC: OverflowError
    "9999-12-31T23:59:59-14:00",  # after year 9999 once in UTC
    "1899-12-31T23:59:59Z",
    "9999-06-01T00:00:00Z",
]


async def test_moving_a_due_time_to_year_one_is_refused_and_the_tick_goes_on(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    create_task: CreateTask,
    rt: Runtime,
    stack: Stack,
    clock: ManualClock,
) -> None:
    """The reproduction: a `before` reminder followed its task to year 1 BC, and from then
    on every tick failed, for every user."""
    mallory, alice = await make_user(), await make_user()
    task = await create_task(mallory, due_at="2030-01-01T00:00:00Z", reminders=[{"before": "P1D"}])
    patched = await client.patch(
        f"/api/tasks/{task['id']}", json={"due_at": "0001-01-01T12:00:00Z"}, headers=mallory.headers
    )
    assert field_errors(patched) == ["due_at"]

    soon = (clock.now() + timedelta(minutes=1)).isoformat()
    await create_task(alice, title="hers", reminders=[{"remind_at": soon}])
    clock.advance(timedelta(minutes=2))
    assert (await tick(stack))["delivered"] == 1
    await settle(rt)
    notes = await client.get("/api/notifications", headers=alice.headers)
    assert [n["title"] for n in notes.json()["items"]] == ["hers"]


@pytest.mark.parametrize("moment", OUT_OF_RANGE)
async def test_a_due_time_out_of_range_is_refused_on_create_and_patch(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, moment: str
) -> None:
    created = await client.post(
        "/api/tasks", json={"title": "t", "due_at": moment}, headers=alice.headers
    )
    assert field_errors(created) == ["due_at"]
    task = await create_task(alice)
    patched = await client.patch(
        f"/api/tasks/{task['id']}", json={"due_at": moment}, headers=alice.headers
    )
    assert field_errors(patched) == ["due_at"]


@pytest.mark.parametrize("moment", OUT_OF_RANGE)
@pytest.mark.parametrize("name", ["due_before", "due_after"])
async def test_list_filters_out_of_range_are_refused(
    client: httpx.AsyncClient, alice: Account, moment: str, name: str
) -> None:
    response = await client.get("/api/tasks", params={name: moment}, headers=alice.headers)
    assert field_errors(response) == [name]


@pytest.mark.parametrize("moment", OUT_OF_RANGE)
async def test_reminder_times_out_of_range_are_refused(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, moment: str
) -> None:
    created = await client.post(
        "/api/tasks",
        json={"title": "t", "reminders": [{"remind_at": moment}]},
        headers=alice.headers,
    )
    assert field_errors(created) == ["reminders.0.remind_at"]
    task = await create_task(alice)
    added = await client.post(
        "/api/reminders", json={"task_id": task["id"], "remind_at": moment}, headers=alice.headers
    )
    assert field_errors(added) == ["remind_at"]


@pytest.mark.parametrize("moment", OUT_OF_RANGE)
async def test_snoozing_until_out_of_range_is_refused(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, moment: str
) -> None:
    snoozed = await snooze_a_reminder(client, alice, create_task, {"until": moment})
    assert field_errors(snoozed) == ["until"]


# Out of range once subtracted, or not the ISO 8601 text the document says (seconds).
@pytest.mark.parametrize("before", ["P999999999D", "P3000Y", "P800000D", 3600, 1.5])
async def test_a_distance_out_of_range_or_not_iso_text_is_refused(
    client: httpx.AsyncClient, alice: Account, before: Any
) -> None:
    created = await client.post(
        "/api/tasks",
        json={"title": "t", "due_at": "2030-01-01T00:00:00Z", "reminders": [{"before": before}]},
        headers=alice.headers,
    )
    assert field_errors(created) == ["reminders.0.before"]


async def test_moving_the_due_time_so_a_following_reminder_leaves_the_range_is_refused(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask
) -> None:
    # The reminder starts in the future (a relative reminder in the past is refused).
    task = await create_task(
        alice, due_at="2130-01-01T00:00:00Z", reminders=[{"before": "P36500D"}]
    )
    patched = await client.patch(
        f"/api/tasks/{task['id']}", json={"due_at": "1950-01-01T00:00:00Z"}, headers=alice.headers
    )
    assert field_errors(patched) == ["due_at"]
    kept = await client.get(f"/api/tasks/{task['id']}", headers=alice.headers)
    assert kept.json()["due_at"] == "2130-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("path", "position"),
    [
        ("/api/tasks?sort=due_at", {"sort": "due_at", "value": "0001-01-01T00:00:00+14:00"}),
        ("/api/tasks?sort=-created_at", {"sort": "-created_at", "value": "1800-01-01T00:00Z"}),
        ("/api/reminders", {"at": "0001-01-01T00:00:00+14:00"}),
        ("/api/notifications", {"at": "9999-12-31T23:59:59-14:00"}),
    ],
)
async def test_cursors_with_times_out_of_range_are_refused(
    client: httpx.AsyncClient, alice: Account, path: str, position: dict[str, Any]
) -> None:
    cursor = forged_cursor({**position, "id": str(uuid.uuid4())})
    response = await client.get(path, params={"cursor": cursor}, headers=alice.headers)
    assert field_errors(response) == ["cursor"]


async def test_a_stored_reminder_out_of_range_is_set_aside_and_the_others_delivered(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    create_task: CreateTask,
    rt: Runtime,
    stack: Stack,
    clock: ManualClock,
) -> None:
    """A row written before the range was enforced never stops the tick again."""
    mallory, alice = await make_user(), await make_user()
    theirs = await create_task(mallory, title="old")
    soon = (clock.now() + timedelta(minutes=1)).isoformat()
    await create_task(alice, title="hers", reminders=[{"remind_at": soon}])
    async with rt.database.transaction() as conn:
        # As an older release could write it: the range check is lifted for the insert.
        await conn.execute("alter table reminders drop constraint reminders_remind_at_range")
        await conn.execute(
            """
            insert into reminders (id, task_id, user_id, remind_at, created_at)
            values ($1, $2, $3, '0001-01-01 00:00:00+00 BC', now())
            """,
            uuid.uuid4(),
            uuid.UUID(theirs["id"]),
            mallory.id,
        )
        await conn.execute(
            """
            alter table reminders add constraint reminders_remind_at_range check
            (remind_at >= '1900-01-01T00:00:00Z' and remind_at < '9999-01-01T00:00:00Z')
            not valid
            """
        )
    clock.advance(timedelta(minutes=2))
    result = await tick(stack)
    assert (result["delivered"], result["skipped"]) == (1, 1)
    await settle(rt)
    notes = await client.get("/api/notifications", headers=alice.headers)
    assert [n["title"] for n in notes.json()["items"]] == ["hers"]
    async with rt.database.transaction() as conn:
        letters = await conn.fetch(
            "select subscriber, reason from dead_letters where subscriber = 'tick'"
        )
        pending = await conn.fetchval("select count(*) from reminders where delivered_at is null")
    assert len(letters) == 1
    assert "outside the range" in letters[0]["reason"]
    assert pending == 0
    assert (await tick(stack))["skipped"] == 0  # set aside once, not on every tick


# NUL characters and numbers JSON should not carry -------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": NUL}, "title"),
        ({"title": "t", "description": NUL}, "description"),
        ({"title": "t", "tags": ["ok", NUL]}, "tags.1"),
        ({"title": "t", "metadata": {"k": NUL}}, "metadata.k"),
        ({"title": "t", "metadata": {NUL: 1}}, "metadata"),
        ({"title": "t", "metadata": {"list": [{"deep": NUL}]}}, "metadata.list.0.deep"),
        (
            {"title": "t", "reminders": [{"remind_at": "2030-01-01T00:00:00Z", "message": NUL}]},
            "reminders.0.message",
        ),
    ],
)
async def test_a_nul_character_in_any_text_of_a_task_is_refused_by_name(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/tasks", json=body, headers=alice.headers)
    assert field_errors(response) == [field]
    assert "NUL" in response.json()["errors"][0]["message"]


async def test_a_nul_character_in_a_patch_or_a_reminder_is_refused(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask
) -> None:
    task = await create_task(alice)
    patched = await client.patch(
        f"/api/tasks/{task['id']}", json={"tags": [NUL]}, headers=alice.headers
    )
    assert field_errors(patched) == ["tags.0"]
    added = await client.post(
        "/api/reminders",
        json={"task_id": task["id"], "remind_at": "2030-01-01T00:00:00Z", "message": NUL},
        headers=alice.headers,
    )
    assert field_errors(added) == ["message"]


@pytest.mark.parametrize("route", ["/api/auth/register", "/api/auth/login"])
async def test_a_nul_character_in_an_email_is_refused(
    client: httpx.AsyncClient, route: str
) -> None:
    response = await client.post(
        route, json={"email": f"x{NUL}@example.com", "password": "long enough password"}
    )
    assert field_errors(response) == ["email"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/tasks", {"q": NUL}, "q"),
        ("/api/tasks", {"tag": NUL}, "tag"),
        ("/api/search", {"q": NUL}, "q"),
        ("/api/tasks", {"cursor": NUL}, "cursor"),
        (
            "/api/tasks",
            {"cursor": forged_cursor({"sort": "title", "value": NUL, "id": "x"})},
            "cursor",
        ),
        ("/api/reminders", {"cursor": forged_cursor({"at": NUL, "id": NUL})}, "cursor"),
    ],
)
async def test_a_nul_character_in_a_query_is_refused(
    client: httpx.AsyncClient, alice: Account, path: str, params: dict[str, str], field: str
) -> None:
    response = await client.get(path, params=params, headers=alice.headers)
    assert field_errors(response) == [field]


async def test_metadata_nested_a_thousand_deep_is_refused_by_name(
    client: httpx.AsyncClient, alice: Account
) -> None:
    deep = '{"a":' * 1000 + "1" + "}" * 1000
    raw = '{"title": "t", "metadata": ' + deep + "}"
    response = await client.post(
        "/api/tasks",
        content=raw,
        headers={**alice.headers, "content-type": "application/json"},
    )
    assert field_errors(response) == ["metadata"]
    shallow = '{"title": "t", "metadata": ' + '{"a":' * 40 + "1" + "}" * 40 + "}"
    response = await client.post(
        "/api/tasks",
        content=shallow,
        headers={**alice.headers, "content-type": "application/json"},
    )
    assert field_errors(response) == ["metadata"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"title": "t", "metadata": {"n": ' + "9" * 5000 + "}}", "metadata.n"),
        ('{"title": "t", "metadata": {"n": NaN}}', "metadata.n"),
        ('{"title": "t", "metadata": {"n": Infinity}}', "metadata.n"),
        ('{"title": "t", "metadata": {"n": 1e400}}', "metadata.n"),
        ('{"title": "t", "priority": ' + "1" * 5000 + "}", "priority"),
    ],
)
async def test_numbers_json_should_not_carry_are_refused_by_name(
    client: httpx.AsyncClient, alice: Account, raw: str, field: str
) -> None:
    response = await client.post(
        "/api/tasks", content=raw, headers={**alice.headers, "content-type": "application/json"}
    )
    assert field_errors(response) == [field]


async def test_a_huge_number_in_if_match_is_refused(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask
) -> None:
    task = await create_task(alice)
    response = await client.patch(
        f"/api/tasks/{task['id']}",
        json={"title": "x"},
        headers={**alice.headers, "if-match": '"' + "9" * 5000 + '"'},
    )
    assert field_errors(response) == ["If-Match"]


async def test_metadata_with_ordinary_numbers_is_kept(
    client: httpx.AsyncClient, alice: Account
) -> None:
    metadata = {"int": 10**40, "float": 2.5, "neg": -3, "nested": [[{"x": 0.25}]]}
    response = await client.post(
        "/api/tasks", json={"title": "t", "metadata": metadata}, headers=alice.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["metadata"] == metadata


# Sequence numbers and cursors ---------------------------------------------------------------


@pytest.mark.parametrize("since", ["9223372036854775808", "-1", "1e3"])
async def test_a_sync_position_past_a_bigint_is_refused(
    client: httpx.AsyncClient, alice: Account, since: str
) -> None:
    response = await client.get("/api/sync", params={"since": since}, headers=alice.headers)
    assert field_errors(response) == ["since"]
    top = await client.get(
        "/api/sync", params={"since": "9223372036854775807"}, headers=alice.headers
    )
    assert top.status_code == 200
    assert top.json()["events"] == []


@pytest.mark.parametrize("path", ["/api/reminders", "/api/notifications"])
@pytest.mark.parametrize("forged_id", [12, None, ["x"], "not-a-uuid"])
async def test_a_cursor_whose_id_is_not_an_id_is_refused(
    client: httpx.AsyncClient, alice: Account, path: str, forged_id: Any
) -> None:
    cursor = forged_cursor({"at": "2026-01-01T00:00:00+00:00", "id": forged_id})
    response = await client.get(path, params={"cursor": cursor}, headers=alice.headers)
    assert field_errors(response) == ["cursor"]


@pytest.mark.parametrize(
    "position",
    [
        {"sort": "-created_at", "value": "2026-01-01T00:00:00+00:00", "id": 12},
        {"sort": "title", "value": 12, "id": "00000000-0000-0000-0000-000000000000"},
    ],
)
async def test_a_task_cursor_with_values_of_the_wrong_kind_is_refused(
    client: httpx.AsyncClient, alice: Account, position: dict[str, Any]
) -> None:
    cursor = forged_cursor(position)
    response = await client.get(
        "/api/tasks", params={"cursor": cursor, "sort": position["sort"]}, headers=alice.headers
    )
    assert field_errors(response) == ["cursor"]


@pytest.mark.parametrize("rank", ["high", None, True, "NaN"])
async def test_a_search_cursor_with_a_rank_that_is_not_a_number_is_refused(
    client: httpx.AsyncClient, alice: Account, rank: Any
) -> None:
    cursor = forged_cursor({"rank": rank, "id": str(uuid.uuid4())})
    response = await client.get(
        "/api/search", params={"q": "x", "cursor": cursor}, headers=alice.headers
    )
    assert field_errors(response) == ["cursor"]


# Events the realtime service cannot push --------------------------------------------------


@pytest.mark.parametrize(
    "attributes",
    [
        {"time": "yesterday-ish", "sequence": 1},
        {"time": "2026-03-02T09:30:00", "sequence": 1},  # no offset
        {"sequence": "twelve"},
        {"sequence": "9" * 5000},
        {"sequence": 2**64},
        {},
    ],
)
async def test_realtime_acknowledges_and_skips_an_event_it_cannot_push(
    stack: Stack, rt: Runtime, alice: Account, attributes: dict[str, Any]
) -> None:
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": "todo.task.created",
        "source": "/functions/create_task",
        "userid": str(alice.id),
        "data": {"task": {}},
        **attributes,
    }
    status, body = await call_app(
        stack.realtime,
        "POST",
        "/events",
        json.dumps(event).encode(),
        {"content-type": "application/cloudevents+json"},
    )
    assert status == 200
    assert json.loads(body) == {"status": "SUCCESS"}


# Misconfiguration -----------------------------------------------------------------------


async def test_register_without_a_token_secret_writes_no_account(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    rewire(rt, jwt_secret=None)
    response = await client.post(
        "/api/auth/register",
        json={"email": "early@example.com", "password": "long enough password"},
    )
    assert response.status_code == 503
    assert response.json()["type"] == "/problems/not-configured"
    assert "JWT" not in response.text  # the reason is for the logs
    async with rt.database.transaction() as conn:
        assert await conn.fetchval("select count(*) from users") == 0


# What the document says is what the server takes --------------------------------------------


@pytest.mark.parametrize("recurrence", ["daily", {"rrule": "daily"}, {"rrule": "Weekly"}])
async def test_the_recurrence_shorthand_works_in_both_documented_forms(
    client: httpx.AsyncClient, alice: Account, recurrence: Any
) -> None:
    response = await client.post(
        "/api/tasks",
        json={"title": "t", "due_at": "2030-01-01T09:00:00Z", "recurrence": recurrence},
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["recurrence"]["rrule"] in ("FREQ=DAILY", "FREQ=WEEKLY")


@pytest.mark.parametrize("name", ["title", "status", "priority", "tags", "metadata"])
async def test_a_patch_field_that_cannot_be_cleared_refuses_null_by_name(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, name: str
) -> None:
    task = await create_task(alice)
    response = await client.patch(
        f"/api/tasks/{task['id']}", json={name: None}, headers=alice.headers
    )
    assert field_errors(response) == [name]


@pytest.mark.parametrize(
    "moment", ["2030-01-01T09:00Z", "2030-01-01 09:00:00Z", "1893456000", "2030-01-01T09:00:00"]
)
async def test_a_time_that_is_not_rfc_3339_with_an_offset_is_refused(
    client: httpx.AsyncClient, alice: Account, moment: str
) -> None:
    response = await client.post(
        "/api/tasks", json={"title": "t", "due_at": moment}, headers=alice.headers
    )
    assert field_errors(response) == ["due_at"]
    numeric = await client.post(
        "/api/tasks", json={"title": "t", "due_at": 1893456000}, headers=alice.headers
    )
    assert field_errors(numeric) == ["due_at"]


@pytest.mark.parametrize("minutes", [True, 5.0, "5"])
async def test_snooze_minutes_are_a_json_integer_as_documented(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, minutes: Any
) -> None:
    snoozed = await snooze_a_reminder(client, alice, create_task, {"minutes": minutes})
    assert field_errors(snoozed) == ["minutes"]
