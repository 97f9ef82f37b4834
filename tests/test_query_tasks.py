"""Reading tasks: filters, sorts, cursor pages with ties, full-text search, the change feed."""

from __future__ import annotations

import base64
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic_core import to_json

from tests.conftest import Account, CreateTask
from todo import documents
from todo.clock import ManualClock
from todo.query_models import SearchHit, SearchPage, TaskListQuery, TaskPage
from todo.runtime import Runtime
from todo.task_models import Task
from todo.task_queries import list_statement
from todo.tasks import COLUMNS, INSERT_TASK

PRIORITY_RANK = {"low": 0, "medium": 1, "high": 2, "urgent": 3}


async def list_all(
    client: httpx.AsyncClient, account: Account, **params: Any
) -> list[dict[str, Any]]:
    """Follow next_cursor to the end; fail on a repeated task."""
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/tasks", params=query, headers=account.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    ids = [t["id"] for t in seen]
    assert len(ids) == len(set(ids)), "a task appeared on two pages"
    return seen


async def titles(client: httpx.AsyncClient, account: Account, **params: Any) -> list[str]:
    response = await client.get("/api/tasks", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return sorted(t["title"] for t in response.json()["items"])


@pytest.fixture
async def many_tasks(
    client: httpx.AsyncClient, alice: Account, clock: ManualClock
) -> list[dict[str, Any]]:
    """250 tasks with heavy ties in every sort key, made through the API."""
    rng = random.Random(7)
    dues = [None, "2026-04-01T09:00:00Z", "2026-04-02T09:00:00Z", "2026-05-01T00:00:00Z"]
    words = ["alpha", "Bravo", "charlie", "delta", "Echo"]
    made = []
    for i in range(250):
        if i % 10 == 0:
            clock.advance(timedelta(seconds=1))
        body = {
            "title": rng.choice(words),
            "priority": rng.choice(list(PRIORITY_RANK)),
            "due_at": rng.choice(dues),
        }
        response = await client.post("/api/tasks", json=body, headers=alice.headers)
        assert response.status_code == 201
        made.append(response.json())
    return made


def expected_order(tasks: list[dict[str, Any]], sort: str) -> list[str]:
    descending = sort.startswith("-")
    field = sort.lstrip("-")

    def key(task: dict[str, Any]) -> Any:
        if field == "priority":
            return PRIORITY_RANK[task["priority"]]
        if field == "title":
            return task["title"].lower()
        return task[field]

    present = [t for t in tasks if key(t) is not None]
    missing = [t for t in tasks if key(t) is None]
    ordered = sorted(present, key=lambda t: (key(t), uuid.UUID(t["id"])), reverse=descending)
    # Tasks without a value come last in both directions, in id order of that direction.
    ordered += sorted(missing, key=lambda t: uuid.UUID(t["id"]), reverse=descending)
    return [t["id"] for t in ordered]


@pytest.mark.parametrize(
    "sort",
    ["due_at", "-due_at", "priority", "-priority", "created_at", "-created_at", "title", "-title"],
)
async def test_cursor_pages_visit_every_task_once_in_sort_order(
    client: httpx.AsyncClient, alice: Account, many_tasks: list[dict[str, Any]], sort: str
) -> None:
    seen = await list_all(client, alice, sort=sort, limit=7)
    assert [t["id"] for t in seen] == expected_order(many_tasks, sort)


async def test_default_order_is_newest_first_and_limit_is_bounded(
    client: httpx.AsyncClient, alice: Account, many_tasks: list[dict[str, Any]]
) -> None:
    page = (await client.get("/api/tasks", headers=alice.headers)).json()
    assert len(page["items"]) == 50
    assert [t["id"] for t in page["items"]] == expected_order(many_tasks, "-created_at")[:50]
    full = await client.get("/api/tasks", params={"limit": 200}, headers=alice.headers)
    assert len(full.json()["items"]) == 200


async def test_pages_stay_consistent_when_tasks_are_added_between_pages(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask, clock: ManualClock
) -> None:
    for i in range(6):
        await create_task(alice, title=f"t{i}")
    first = (
        await client.get(
            "/api/tasks", params={"limit": 3, "sort": "created_at"}, headers=alice.headers
        )
    ).json()
    clock.advance(timedelta(seconds=5))
    await create_task(alice, title="late")
    rest = await list_all(client, alice, sort="created_at", limit=3, cursor=first["next_cursor"])
    names = [t["title"] for t in first["items"] + rest]
    assert sorted(names[:6]) == [f"t{i}" for i in range(6)]
    assert names[6:] == ["late"]


async def test_filters(
    client: httpx.AsyncClient,
    alice: Account,
    bob: Account,
    create_task: CreateTask,
    clock: ManualClock,
) -> None:
    now = clock.now()
    await create_task(
        alice,
        title="overdue",
        due_at=(now - timedelta(hours=1)).isoformat(),
        tags=["work", "urgent"],
        priority="urgent",
    )
    await create_task(
        alice,
        title="done late",
        due_at=(now - timedelta(days=1)).isoformat(),
        status="completed",
        tags=["work"],
    )
    await create_task(
        alice,
        title="soon",
        due_at=(now + timedelta(minutes=30)).isoformat(),
        tags=["home"],
        status="in_progress",
    )
    await create_task(alice, title="someday", priority="low", description="learn the cello")
    await create_task(
        bob, title="bob's overdue", due_at=(now - timedelta(hours=1)).isoformat(), tags=["work"]
    )

    assert await titles(client, alice) == ["done late", "overdue", "someday", "soon"]
    assert await titles(client, alice, status="completed") == ["done late"]
    assert await titles(client, alice, status=["pending", "in_progress"]) == [
        "overdue",
        "someday",
        "soon",
    ]
    assert await titles(client, alice, priority="urgent") == ["overdue"]
    assert await titles(client, alice, priority=["low", "urgent"]) == ["overdue", "someday"]
    assert await titles(client, alice, tag="work") == ["done late", "overdue"]
    assert await titles(client, alice, tag=["work", "URGENT"]) == ["overdue"]
    assert await titles(client, alice, tag=["work", "home"]) == []
    assert await titles(client, alice, due_before=now.isoformat()) == ["done late", "overdue"]
    assert await titles(client, alice, due_after=now.isoformat()) == ["soon"]
    assert await titles(client, alice, overdue="true") == ["overdue"]
    assert await titles(client, alice, overdue="false") == ["done late", "someday", "soon"]
    assert await titles(client, alice, q="cello") == ["someday"]
    assert await titles(client, alice, q="over", tag="work") == ["overdue"]

    clock.advance(timedelta(minutes=45))
    assert await titles(client, alice, overdue="true") == ["overdue", "soon"]


def _cursor(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "colour"}, "sort"),
        ({"sort": ["title", "priority"]}, "sort"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "done"}, "status.0"),
        ({"priority": "critical"}, "priority.0"),
        ({"due_before": "yesterday"}, "due_before"),
        ({"due_after": "2026-03-01T00:00:00"}, "due_after"),
        ({"overdue": "maybe"}, "overdue"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": _cursor("[1, 2]")}, "cursor"),
        ({"cursor": _cursor('{"sort": "-created_at", "value": "x", "id": "y"}')}, "cursor"),
        (
            {
                "cursor": _cursor(
                    '{"sort": "title", "value": "a", "id": "' + str(uuid.uuid4()) + '"}'
                )
            },
            "cursor",
        ),
        ({"tag": "x" * 51}, "tag.0"),
        ({"q": ""}, "q"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_query_parameters_are_422_naming_them(
    client: httpx.AsyncClient, alice: Account, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/api/tasks", params=params, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()


async def test_a_cursor_from_another_sort_is_refused(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask
) -> None:
    for i in range(3):
        await create_task(alice, title=f"t{i}")
    page = (
        await client.get("/api/tasks", params={"limit": 1, "sort": "title"}, headers=alice.headers)
    ).json()
    response = await client.get(
        "/api/tasks",
        params={"cursor": page["next_cursor"], "sort": "priority"},
        headers=alice.headers,
    )
    assert response.status_code == 422
    assert "different sort" in response.json()["detail"]


async def test_search_ranks_title_matches_above_description_matches(
    client: httpx.AsyncClient, alice: Account, bob: Account, create_task: CreateTask
) -> None:
    await create_task(alice, title="Weekly planning", description="write the groceries list")
    await create_task(alice, title="Buy groceries", description="milk, eggs")
    await create_task(alice, title="Call the plumber", tags=["house"])
    await create_task(bob, title="Bob's groceries")

    async def search(q: str) -> list[str]:
        response = await client.get("/api/search", params={"q": q}, headers=alice.headers)
        assert response.status_code == 200, response.text
        return [hit["title"] for hit in response.json()["items"]]

    assert await search("groceries") == ["Buy groceries", "Weekly planning"]
    assert await search("grocery") == ["Buy groceries", "Weekly planning"]  # English stemming
    assert await search("groc") == ["Buy groceries", "Weekly planning"]  # prefix of the last word
    assert await search("buy gro") == ["Buy groceries"]
    assert await search('"buy groceries"') == ["Buy groceries"]
    assert await search("groceries -weekly") == ["Buy groceries"]
    assert sorted(await search("plumber or eggs")) == ["Buy groceries", "Call the plumber"]
    assert await search("buy or") == ["Buy groceries"]
    assert await search("house") == ["Call the plumber"]  # tags are searched too
    assert await search("zebra") == []
    hits = (
        await client.get("/api/search", params={"q": "groceries"}, headers=alice.headers)
    ).json()["items"]
    assert hits[0]["rank"] > hits[1]["rank"] > 0


async def test_search_pages_with_a_cursor(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask
) -> None:
    for i in range(9):
        await create_task(alice, title=f"report {i}", description="report" if i % 2 else None)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {
            "q": "report",
            "limit": 4,
            **({"cursor": cursor} if cursor else {}),
        }
        page = (await client.get("/api/search", params=params, headers=alice.headers)).json()
        seen += [hit["id"] for hit in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 9


# One row of every shape a task can take in the table: nulls, empty and full tags,
# metadata with non-ASCII text, escapes, numbers and nesting, both recurrence modes, and
# times with and without microseconds.
TASK_SHAPES: list[dict[str, Any]] = [
    {"title": "plain report", "description": None, "status": "pending", "priority": "low",
     "due_at": None, "done": False, "tags": [], "metadata": {}, "recurrence": None,
     "at": datetime(2026, 3, 1, 9, 0, tzinfo=UTC)},
    {"title": "Café report ☕ — 日本語", "description": 'say "hi"\\n\tback\\slash',
     "status": "completed", "priority": "urgent",
     "due_at": datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC), "done": True,
     "tags": ["home", "café", "x" * 50],
     "metadata": {"note": "für Ärger 😀", "n": 3, "ratio": 0.1, "tiny": 1.5e-7, "x": 123456789.125,
                  "big": 2**63 - 1, "neg": -(2**63),
                  "flag": True, "none": None, "nested": {"list": [1, "two", {"3": []}]},
                  "ctl": "a\u0001b\u2028c</script>"},
     "recurrence": {"rrule": "FREQ=MONTHLY;BYMONTHDAY=1", "timezone": "Europe/Paris",
                    "mode": "completion"},
     "at": datetime(2026, 3, 1, 9, 0, 0, 500, tzinfo=UTC)},
    {"title": "weekly report", "description": "", "status": "in_progress",
     "priority": "medium", "due_at": datetime(2026, 3, 3, tzinfo=UTC), "done": False,
     "tags": ["work"], "metadata": {"k": ""},
     "recurrence": {"rrule": "FREQ=WEEKLY", "timezone": None, "mode": "due"},
     "at": datetime(2026, 3, 1, 9, 0, 1, 999999, tzinfo=UTC)},
]  # fmt: skip


async def test_reads_answer_the_json_of_validated_tasks_byte_for_byte(
    rt: Runtime, client: httpx.AsyncClient, alice: Account
) -> None:
    """Rows become answers without validation; the bytes must stay those validation gave."""
    async with rt.database.transaction() as conn:
        for shape in TASK_SHAPES:
            await conn.execute(
                INSERT_TASK, uuid.uuid4(), alice.id, shape["title"], shape["description"],
                shape["status"], shape["priority"], shape["due_at"],
                shape["at"] if shape["done"] else None, shape["tags"], shape["metadata"],
                shape["recurrence"], shape["at"],
            )  # fmt: skip
        sql, args = list_statement(alice.id, TaskListQuery(), rt.clock.now())
        rows = await conn.fetch(sql, *args)
        hits = await conn.fetch(
            f"select {COLUMNS}, ts_rank(search, q) as rank from tasks, "
            "to_tsquery('english', 'report') q where user_id = $1 order by rank desc, id",
            alice.id,
        )
    validated = [Task.model_validate(dict(r)) for r in rows]
    assert {t.recurrence is not None for t in validated} == {True, False}

    listed = await client.get("/api/tasks", headers=alice.headers)
    assert listed.content == TaskPage(items=validated, next_cursor=None).model_dump_json().encode()
    for task in validated:
        one = await client.get(f"/api/tasks/{task.id}", headers=alice.headers)
        assert one.content == task.model_dump_json().encode()
    found = await client.get("/api/search", params={"q": "report"}, headers=alice.headers)
    expected = SearchPage(items=[SearchHit.model_validate(dict(r)) for r in hits], next_cursor=None)
    assert found.content == expected.model_dump_json().encode()


def test_a_document_orjson_refuses_is_written_as_pydantic_writes_it() -> None:
    document = {"metadata": {"huge": 2**70, "big": 2**64}, "at": datetime(2026, 1, 1, tzinfo=UTC)}
    assert documents.encode(document) == to_json(document)
    assert b'"huge":1180591620717411303424' in documents.encode(document)


@pytest.mark.parametrize(
    ("params", "field"), [({}, "q"), ({"q": "  "}, "q"), ({"q": "x", "limit": 101}, "limit")]
)
async def test_search_validates_its_parameters(
    client: httpx.AsyncClient, alice: Account, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/api/search", params=params, headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


async def test_change_feed_returns_exactly_the_users_events_in_order_without_gaps(
    client: httpx.AsyncClient, alice: Account, bob: Account, create_task: CreateTask
) -> None:
    one = await create_task(alice, title="one")
    await create_task(bob, title="bob's")
    two = await create_task(alice, title="two")
    await client.post(f"/api/tasks/{one['id']}/complete", headers=alice.headers)
    await client.patch(f"/api/tasks/{two['id']}", json={"priority": "high"}, headers=alice.headers)
    await client.delete(f"/api/tasks/{two['id']}", headers=alice.headers)

    everything = (await client.get("/api/sync", headers=alice.headers)).json()
    assert [e["sequence"] for e in everything["events"]] == [1, 2, 3, 4, 5]
    assert [e["type"] for e in everything["events"]] == [
        "todo.task.created",
        "todo.task.created",
        "todo.task.completed",
        "todo.task.updated",
        "todo.task.deleted",
    ]
    assert everything["last_seq"] == 5
    assert everything["has_more"] is False
    assert {e["userid"] for e in everything["events"]} == {str(alice.id)}
    first = everything["events"][0]
    assert first["specversion"] == "1.0"
    assert first["subject"] == one["id"]
    assert first["source"] == "/functions/create_task"
    assert first["data"]["task"]["title"] == "one"

    page = (
        await client.get("/api/sync", params={"since": 1, "limit": 2}, headers=alice.headers)
    ).json()
    assert [e["sequence"] for e in page["events"]] == [2, 3]
    assert page["has_more"] is True
    rest = (
        await client.get("/api/sync", params={"since": page["last_seq"]}, headers=alice.headers)
    ).json()
    assert [e["sequence"] for e in rest["events"]] == [4, 5]
    caught_up = (await client.get("/api/sync", params={"since": 5}, headers=alice.headers)).json()
    assert caught_up == {"events": [], "last_seq": 5, "has_more": False}

    bobs = (await client.get("/api/sync", headers=bob.headers)).json()
    assert [e["sequence"] for e in bobs["events"]] == [1]


async def test_a_failed_change_leaves_no_event_and_no_gap(
    client: httpx.AsyncClient, alice: Account, create_task: CreateTask
) -> None:
    task = await create_task(alice)
    stale = await client.patch(
        f"/api/tasks/{task['id']}",
        json={"title": "x"},
        headers={**alice.headers, "if-match": '"9"'},
    )
    assert stale.status_code == 412
    await create_task(alice)
    feed = (await client.get("/api/sync", headers=alice.headers)).json()
    assert [e["sequence"] for e in feed["events"]] == [1, 2]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"since": -1}, "since"), ({"since": "x"}, "since"), ({"limit": 1001}, "limit")],
)
async def test_change_feed_validates_its_parameters(
    client: httpx.AsyncClient, alice: Account, params: dict[str, Any], field: str
) -> None:
    response = await client.get("/api/sync", params=params, headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


async def test_concurrent_changes_of_one_user_get_distinct_gapless_sequences(
    client: httpx.AsyncClient, alice: Account
) -> None:
    import asyncio

    responses = await asyncio.gather(
        *[
            client.post("/api/tasks", json={"title": f"c{i}"}, headers=alice.headers)
            for i in range(20)
        ]
    )
    assert all(r.status_code == 201 for r in responses)
    feed = (await client.get("/api/sync", headers=alice.headers)).json()
    assert [e["sequence"] for e in feed["events"]] == list(range(1, 21))


def test_expected_order_helper_sorts_missing_values_last() -> None:
    a = {"id": str(uuid.UUID(int=1)), "due_at": None}
    b = {"id": str(uuid.UUID(int=2)), "due_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat()}
    assert expected_order([a, b], "due_at") == [b["id"], a["id"]]
    assert expected_order([a, b], "-due_at") == [b["id"], a["id"]]
