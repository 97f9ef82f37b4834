"""Quick add: what a typed line reads as (at a fixed clock, in Europe/Berlin), the parse
route, creating a task from text, and the parser's absence from a JSON create's imports."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import START, Account, MakeUser, settle
from todo.clock import ManualClock
from todo.quick_add import parse
from todo.runtime import Runtime

BERLIN = ZoneInfo("Europe/Berlin")
ROOT = Path(__file__).resolve().parents[1]
# START is Monday 2026-03-02 09:30 UTC, 10:30 in Berlin (CET, +01:00). Berlin's clocks go
# forward on 2026-03-29 (02:00 -> 03:00) and back on 2026-10-25 (03:00 -> 02:00).
BEFORE_SPRING = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
BEFORE_AUTUMN = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
SPRING_NIGHT = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 CET, half an hour before


class Case(NamedTuple):
    text: str
    title: str
    due: str | None = None  # UTC, minutes
    rule: str | None = None  # "!" first: repeats from completion
    tags: tuple[str, ...] = ()
    priority: str | None = None
    reminders: tuple[str, ...] = ()  # ISO 8601 durations before, or UTC moments
    parts: tuple[str, ...] = ()  # "kind:text", in the order of the text
    ignored: tuple[str, ...] = ()  # the text of each part reported as ignored
    now: datetime = START


CASES = [
    # Dates and times; a date without a time is due at 23:59 that day.
    Case("Call mom today", "Call mom", "2026-03-02T22:59", parts=("due:today",)),
    Case("Call mom tomorrow", "Call mom", "2026-03-03T22:59", parts=("due:tomorrow",)),
    Case("Call mom tomorrow 5pm", "Call mom", "2026-03-03T16:00", parts=("due:tomorrow 5pm",)),
    Case("Call mom tomorrow at 5pm", "Call mom", "2026-03-03T16:00",
         parts=("due:tomorrow at 5pm",)),
    Case("Dentist fri", "Dentist", "2026-03-06T22:59", parts=("due:fri",)),
    Case("Dentist on friday", "Dentist", "2026-03-06T22:59", parts=("due:on friday",)),
    # parsedatetime's "next": the one in the week after this one.
    Case("Dentist next fri", "Dentist", "2026-03-13T22:59", parts=("due:next fri",)),
    Case("Dentist friday 3pm", "Dentist", "2026-03-06T14:00", parts=("due:friday 3pm",)),
    Case("Meeting mon 10am", "Meeting", "2026-03-09T09:00", parts=("due:mon 10am",)),
    Case("Renew passport in 3 days", "Renew passport", "2026-03-05T22:59",
         parts=("due:in 3 days",)),
    Case("Plan trip in 2 weeks", "Plan trip", "2026-03-16T22:59", parts=("due:in 2 weeks",)),
    Case("Report next week", "Report", "2026-03-09T22:59", parts=("due:next week",)),
    Case("Stretch in 2 hours", "Stretch", "2026-03-02T11:30", parts=("due:in 2 hours",)),
    Case("Stretch in 30 minutes", "Stretch", "2026-03-02T10:00", parts=("due:in 30 minutes",)),
    Case("Stretch in 45 min", "Stretch", "2026-03-02T10:15", parts=("due:in 45 min",)),
    Case("Buy gifts dec 24", "Buy gifts", "2026-12-24T22:59", parts=("due:dec 24",)),
    Case("Buy gifts dec 24 at 9", "Buy gifts", "2026-12-24T08:00",
         parts=("due:dec 24", "due:at 9")),
    Case("Buy gifts 24 December 9:15", "Buy gifts", "2026-12-24T08:15",
         parts=("due:24 December 9:15",)),
    Case("File taxes 2026-04-30", "File taxes", "2026-04-30T21:59", parts=("due:2026-04-30",)),
    # A time alone is today's, or tomorrow's once today's has passed; "at 9" is 24-hour.
    Case("Stand-up at 9", "Stand-up", "2026-03-03T08:00", parts=("due:at 9",)),
    Case("Stand-up at 11", "Stand-up", "2026-03-02T10:00", parts=("due:at 11",)),
    Case("Stand-up at 21:00", "Stand-up", "2026-03-02T20:00", parts=("due:at 21:00",)),
    Case("Call at 3pm", "Call", "2026-03-02T14:00", parts=("due:at 3pm",)),
    Case("Lunch at noon", "Lunch", "2026-03-02T11:00", parts=("due:at noon",)),
    Case("Water plants tonight", "Water plants", "2026-03-02T20:00", parts=("due:tonight",)),
    Case("Ship it by friday", "Ship it", "2026-03-06T22:59", parts=("due:by friday",)),
    Case("tomorrow 5pm", "tomorrow 5pm", "2026-03-03T16:00", parts=("due:tomorrow 5pm",)),
    # Repeats: the due time is the rule's first occurrence from then on.
    Case("Take vitamins every day", "Take vitamins", "2026-03-02T22:59", "FREQ=DAILY",
         parts=("recurrence:every day",)),
    Case("Take vitamins every day at 8am", "Take vitamins", "2026-03-03T07:00", "FREQ=DAILY",
         parts=("recurrence:every day", "due:at 8am")),
    Case("Stand-up every weekday at 9:15", "Stand-up", "2026-03-03T08:15",
         "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", parts=("recurrence:every weekday", "due:at 9:15")),
    Case("Gym every monday", "Gym", "2026-03-02T22:59", "FREQ=WEEKLY;BYDAY=MO",
         parts=("recurrence:every monday",)),
    Case("Gym every mon and thu at 7pm", "Gym", "2026-03-02T18:00", "FREQ=WEEKLY;BYDAY=MO,TH",
         parts=("recurrence:every mon and thu", "due:at 7pm")),
    Case("Gym every mon, wed and fri 7am", "Gym", "2026-03-04T06:00",
         "FREQ=WEEKLY;BYDAY=MO,WE,FR", parts=("recurrence:every mon, wed and fri", "due:7am")),
    Case("Yoga every tuesday 6pm", "Yoga", "2026-03-03T17:00", "FREQ=WEEKLY;BYDAY=TU",
         parts=("recurrence:every tuesday", "due:6pm")),
    Case("Clean every weekend", "Clean", "2026-03-07T22:59", "FREQ=WEEKLY;BYDAY=SA,SU",
         parts=("recurrence:every weekend",)),
    Case("Check mail every week on friday", "Check mail", "2026-03-06T22:59",
         "FREQ=WEEKLY;BYDAY=FR", parts=("recurrence:every week on friday",)),
    Case("Pay bills every 2 weeks", "Pay bills", "2026-03-02T22:59", "FREQ=WEEKLY;INTERVAL=2",
         parts=("recurrence:every 2 weeks",)),
    Case("Backup every other day", "Backup", "2026-03-02T22:59", "FREQ=DAILY;INTERVAL=2",
         parts=("recurrence:every other day",)),
    Case("Anniversary every year", "Anniversary", "2026-03-02T22:59", "FREQ=YEARLY",
         parts=("recurrence:every year",)),
    Case("Pay rent every month on the 1st", "Pay rent", "2026-04-01T21:59",
         "FREQ=MONTHLY;BYMONTHDAY=1", parts=("recurrence:every month on the 1st",)),
    Case("Pay rent every month on the 1st at 9am", "Pay rent", "2026-04-01T07:00",
         "FREQ=MONTHLY;BYMONTHDAY=1", parts=("recurrence:every month on the 1st", "due:at 9am")),
    Case("Team lunch every last friday", "Team lunch", "2026-03-27T22:59",
         "FREQ=MONTHLY;BYDAY=-1FR", parts=("recurrence:every last friday",)),
    Case("Review every first monday at 10am", "Review", "2026-04-06T08:00",
         "FREQ=MONTHLY;BYDAY=1MO", parts=("recurrence:every first monday", "due:at 10am")),
    Case("Invoice every 15th", "Invoice", "2026-03-15T22:59", "FREQ=MONTHLY;BYMONTHDAY=15",
         parts=("recurrence:every 15th",)),
    Case("Close books every month on the last day", "Close books", "2026-03-31T21:59",
         "FREQ=MONTHLY;BYMONTHDAY=-1", parts=("recurrence:every month on the last day",)),
    Case("Water plants every! 3 days", "Water plants", "2026-03-02T22:59",
         "!FREQ=DAILY;INTERVAL=3", parts=("recurrence:every! 3 days",)),
    Case("Haircut every! 4 weeks", "Haircut", "2026-03-02T22:59", "!FREQ=WEEKLY;INTERVAL=4",
         parts=("recurrence:every! 4 weeks",)),
    # Tags and priorities (p1 is the most urgent).
    Case("Buy milk #shopping", "Buy milk", tags=("shopping",), parts=("tag:#shopping",)),
    Case("Buy milk #Shopping #errands #shopping", "Buy milk", tags=("shopping", "errands"),
         parts=("tag:#Shopping", "tag:#errands", "tag:#shopping")),
    Case("Fix bug !urgent", "Fix bug", priority="urgent", parts=("priority:!urgent",)),
    Case("Fix bug !low", "Fix bug", priority="low", parts=("priority:!low",)),
    Case("Fix bug p1", "Fix bug", priority="urgent", parts=("priority:p1",)),
    Case("Fix bug p2", "Fix bug", priority="high", parts=("priority:p2",)),
    Case("Fix bug p3", "Fix bug", priority="medium", parts=("priority:p3",)),
    Case("Fix bug p4", "Fix bug", priority="low", parts=("priority:p4",)),
    Case("Fix bug P2 #work tomorrow", "Fix bug", "2026-03-03T22:59", tags=("work",),
         priority="high", parts=("priority:P2", "tag:#work", "due:tomorrow")),
    Case("Hurry! done", "Hurry! done"),
    Case("Email C# team", "Email C# team"),
    # Reminders.
    Case("Dentist tomorrow 3pm remind 30m before", "Dentist", "2026-03-03T14:00",
         reminders=("PT30M",), parts=("due:tomorrow 3pm", "reminder:remind 30m before")),
    Case("Dentist tomorrow 3pm remind me 1h before", "Dentist", "2026-03-03T14:00",
         reminders=("PT1H",), parts=("due:tomorrow 3pm", "reminder:remind me 1h before")),
    Case("Dentist tomorrow 3pm remind 2 hours before", "Dentist", "2026-03-03T14:00",
         reminders=("PT2H",), parts=("due:tomorrow 3pm", "reminder:remind 2 hours before")),
    Case("Dentist tomorrow remind at 8am", "Dentist", "2026-03-03T22:59",
         reminders=("2026-03-03T07:00",), parts=("due:tomorrow", "reminder:remind at 8am")),
    Case("Call bank remind at 8am", "Call bank", reminders=("2026-03-03T07:00",),
         parts=("reminder:remind at 8am",)),
    Case("Ship it by friday p2 #work #release remind 1d before", "Ship it", "2026-03-06T22:59",
         tags=("work", "release"), priority="high", reminders=("P1D",),
         parts=("due:by friday", "priority:p2", "tag:#work", "tag:#release",
                "reminder:remind 1d before")),
    Case("Pay rent every month on the 1st at 9am #home !high remind 30m before", "Pay rent",
         "2026-04-01T07:00", "FREQ=MONTHLY;BYMONTHDAY=1", ("home",), "high", ("PT30M",),
         ("recurrence:every month on the 1st", "due:at 9am", "tag:#home", "priority:!high",
          "reminder:remind 30m before")),
    # What cannot be used stays in the title and is reported.
    Case("Call bank remind 30m before", "Call bank remind 30m before",
         ignored=("remind 30m before",)),
    Case("Call bank today 11am remind 1h before", "Call bank remind 1h before",
         "2026-03-02T10:00", parts=("due:today 11am",), ignored=("remind 1h before",)),
    Case("Pay rent on the 1st", "Pay rent on the 1st", ignored=("1st",)),
    Case("water plants every xyz !critical", "water plants every xyz !critical",
         ignored=("every xyz", "!critical")),
    Case("Launch #", "Launch #", ignored=("#",)),
    Case("Task p7", "Task p7", ignored=("p7",)),
    Case("Do it every", "Do it every", ignored=("every",)),
    Case("Meet sat or sun", "Meet or sun", "2026-03-07T22:59", parts=("due:sat",),
         ignored=("sun",)),
    Case("Plan 9999-12-31", "Plan 9999-12-31", ignored=("9999-12-31",)),
    Case("Plan 1850-01-01", "Plan 1850-01-01", ignored=("1850-01-01",)),
    # Read as text, not as dates: a bare number, a month's name alone.
    Case("Review PR 1234", "Review PR 1234"),
    Case("buy may flowers", "buy may flowers"),
    # Daylight saving: 02:30 does not exist on 2026-03-29 (it is 03:30 CEST) and happens
    # twice on 2026-10-25 (the first, CEST, is taken); 9am stays 9am either side.
    Case("Bake tomorrow 2:30am", "Bake", "2026-03-29T01:30", parts=("due:tomorrow 2:30am",),
         now=BEFORE_SPRING),
    Case("Bake tomorrow 9am", "Bake", "2026-03-29T07:00", parts=("due:tomorrow 9am",),
         now=BEFORE_SPRING),
    Case("Bake tomorrow 2:30am", "Bake", "2026-10-25T00:30", parts=("due:tomorrow 2:30am",),
         now=BEFORE_AUTUMN),
    Case("Bake tomorrow 9am", "Bake", "2026-10-25T08:00", parts=("due:tomorrow 9am",),
         now=BEFORE_AUTUMN),
    Case("Gym every day at 9am", "Gym", "2026-03-29T07:00", "FREQ=DAILY",
         parts=("recurrence:every day", "due:at 9am"), now=BEFORE_SPRING),
    Case("Bake every sunday 2:30am", "Bake", "2026-03-29T01:30", "FREQ=WEEKLY;BYDAY=SU",
         parts=("recurrence:every sunday", "due:2:30am"), now=BEFORE_SPRING),
    # Hours are real hours: two after 01:30 CET is 04:30 CEST.
    Case("Check in 2 hours", "Check", "2026-03-29T02:30", parts=("due:in 2 hours",),
         now=SPRING_NIGHT),
]  # fmt: skip


def utc_minutes(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c.text}" for i, c in enumerate(CASES)])
def test_a_typed_line_reads_as_pinned(case: Case) -> None:
    parsed = parse(case.text, case.now, BERLIN)
    rule = None
    if parsed.recurrence is not None:
        assert parsed.recurrence.timezone is None  # the account's zone
        rule = ("!" if parsed.recurrence.mode == "completion" else "") + parsed.recurrence.rrule
    reminders = tuple(
        utc_minutes(r.remind_at) if r.remind_at else r.model_dump(mode="json")["before"]
        for r in parsed.reminders
    )
    assert (
        parsed.title,
        utc_minutes(parsed.due_at),
        rule,
        tuple(parsed.tags),
        parsed.priority,
        reminders,
        tuple(f"{p.kind}:{p.text}" for p in parsed.parts),
        tuple(i.text for i in parsed.ignored),
    ) == (
        case.title,
        case.due,
        case.rule,
        case.tags,
        case.priority,
        case.reminders,
        case.parts,
        case.ignored,
    )
    for span in [*parsed.parts, *parsed.ignored]:
        assert case.text[span.start : span.end] == span.text
    assert parsed.timezone == "Europe/Berlin"


def test_offsets_count_from_the_start_of_the_text_as_sent() -> None:
    text = "  Pay rent every month on the 1st at 9am #home !high remind 30m before"
    parsed = parse(text, START, BERLIN)
    assert [(p.kind, p.start, p.end) for p in parsed.parts] == [
        ("recurrence", 11, 33),
        ("due", 34, 40),
        ("tag", 41, 46),
        ("priority", 47, 52),
        ("reminder", 53, 70),
    ]
    ignored = parse("Pay rent on the 1st", START, BERLIN).ignored
    assert [(i.start, i.end, i.reason) for i in ignored] == [
        (16, 19, "not understood; kept in the title")
    ]


def test_the_same_line_reads_in_each_accounts_zone() -> None:
    tokyo = parse("Call tomorrow 9am", START, ZoneInfo("Asia/Tokyo"))
    assert utc_minutes(tokyo.due_at) == "2026-03-03T00:00"
    assert tokyo.timezone == "Asia/Tokyo"


WORDS = [
    "every", "every!", "day", "weeks", "month", "2", "0", "99", "9999", "other", "weekday",
    "mon", "fri", "last", "1st", "32nd", "the", "on", "at", "in", "9", "9am", "13pm", "24:00",
    "9:61", "noon", "remind", "me", "before", "30m", "0m", "9999d", "1h", "tomorrow", "next",
    "dec", "24", "feb", "30", "2026-02-30", "9999-12-31", "#tag", "#", "!high", "!x", "p0", "p1",
    "p9", "by", "lunch", "tonight", ",", "ü", "😀",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_any_line_reads_without_failing_and_every_span_points_into_it(seed: int) -> None:
    pick = random.Random(seed)
    zones = [ZoneInfo(z) for z in ("Europe/Berlin", "Pacific/Kiritimati", "America/St_Johns")]
    edges = [datetime(9998, 12, 31, 20, tzinfo=UTC), datetime(1900, 1, 1, 0, 30, tzinfo=UTC)]
    for _ in range(500):
        text = " ".join(pick.choice(WORDS) for _ in range(pick.randint(1, 10)))
        now = pick.choice([*edges, START + timedelta(minutes=pick.randint(0, 600_000))])
        parsed = parse(text, now, pick.choice(zones))
        assert 1 <= len(parsed.title) <= len(text), text
        for span in [*parsed.parts, *parsed.ignored]:
            assert text[span.start : span.end] == span.text, text


# Routes -------------------------------------------------------------------------------------

HEADLINE = "Pay rent every month on the 1st at 9am #home !high remind 30m before"


@pytest.fixture
async def berliner(make_user: MakeUser) -> Account:
    return await make_user("berliner@example.com", timezone="Europe/Berlin")


async def test_parse_answers_the_fields_and_where_they_came_from(
    client: httpx.AsyncClient, berliner: Account, rt: Runtime
) -> None:
    response = await client.post(
        "/api/tasks/parse", json={"text": HEADLINE}, headers=berliner.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "title": "Pay rent",
        "due_at": "2026-04-01T07:00:00Z",
        "priority": "high",
        "tags": ["home"],
        "recurrence": {"rrule": "FREQ=MONTHLY;BYMONTHDAY=1", "timezone": None, "mode": "due"},
        "reminders": [{"remind_at": None, "before": "PT30M"}],
        "parts": [
            {"kind": "recurrence", "start": 9, "end": 31, "text": "every month on the 1st"},
            {"kind": "due", "start": 32, "end": 38, "text": "at 9am"},
            {"kind": "tag", "start": 39, "end": 44, "text": "#home"},
            {"kind": "priority", "start": 45, "end": 50, "text": "!high"},
            {"kind": "reminder", "start": 51, "end": 68, "text": "remind 30m before"},
        ],
        "ignored": [],
        "timezone": "Europe/Berlin",
    }
    async with rt.database.transaction() as conn:
        assert await conn.fetchval("select count(*) from tasks") == 0


async def test_create_from_text_creates_the_task_as_parsed_with_its_events(
    client: httpx.AsyncClient, berliner: Account, rt: Runtime
) -> None:
    parsed = (
        await client.post("/api/tasks/parse", json={"text": HEADLINE}, headers=berliner.headers)
    ).json()
    response = await client.post("/api/tasks", json={"text": HEADLINE}, headers=berliner.headers)
    assert response.status_code == 201, response.text
    task = response.json()
    for name in ("title", "due_at", "priority", "tags", "recurrence"):
        assert task[name] == parsed[name], name
    assert response.headers["location"] == f"/api/tasks/{task['id']}"
    # The same task sent as fields announces itself with the same events.
    fields = {name: parsed[name] for name in ("title", "due_at", "priority", "tags")}
    as_fields = await client.post(
        "/api/tasks",
        json={**fields, "recurrence": parsed["recurrence"], "reminders": [{"before": "PT30M"}]},
        headers=berliner.headers,
    )
    assert as_fields.status_code == 201, as_fields.text
    await settle(rt)
    async with rt.database.transaction() as conn:
        events = await conn.fetch("select type, subject from events order by seq")
        reminders = await conn.fetch("select remind_at from reminders")
    types = [e["type"] for e in events]
    assert types[:3] == ["todo.task.created", "todo.recurrence.created", "todo.reminder.scheduled"]
    assert types[:3] == types[3:6]
    assert events[0]["subject"] == task["id"]
    assert [r["remind_at"] for r in reminders] == [datetime(2026, 4, 1, 6, 30, tzinfo=UTC)] * 2


async def test_an_unreadable_line_still_creates_a_task_titled_with_it(
    client: httpx.AsyncClient, berliner: Account
) -> None:
    text = "water plants every xyz !critical remind 5m before"
    response = await client.post("/api/tasks", json={"text": text}, headers=berliner.headers)
    assert response.status_code == 201, response.text
    task = response.json()
    assert (task["title"], task["due_at"], task["priority"], task["recurrence"]) == (
        text,
        None,
        "medium",
        None,
    )


async def test_fields_given_besides_the_text_replace_the_ones_read(
    client: httpx.AsyncClient, berliner: Account
) -> None:
    body = {"text": "Fix bug tomorrow 5pm !low #work", "priority": "urgent", "tags": ["Ops"]}
    response = await client.post("/api/tasks", json=body, headers=berliner.headers)
    assert response.status_code == 201, response.text
    task = response.json()
    assert (task["title"], task["due_at"], task["priority"], task["tags"]) == (
        "Fix bug",
        "2026-03-03T16:00:00Z",
        "urgent",
        ["ops"],
    )
    titled = await client.post(
        "/api/tasks", json={"text": "tomorrow 5pm #x", "title": "Named"}, headers=berliner.headers
    )
    assert (titled.json()["title"], titled.json()["tags"]) == ("Named", ["x"])


async def test_a_retried_text_replays_the_first_task_even_once_it_reads_differently(
    client: httpx.AsyncClient, berliner: Account, clock: ManualClock
) -> None:
    headers = {**berliner.headers, "idempotency-key": "quick-1"}
    first = await client.post("/api/tasks", json={"text": "Stretch in 2 hours"}, headers=headers)
    clock.advance(timedelta(minutes=5))
    again = await client.post("/api/tasks", json={"text": "Stretch in 2 hours"}, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = await client.post("/api/tasks", json={"text": "Stretch in 3 hours"}, headers=headers)
    assert other.json()["type"] == "/problems/idempotency-key-reused"


async def test_a_text_may_come_as_a_cloudevent(
    client: httpx.AsyncClient, berliner: Account
) -> None:
    headers = {
        **berliner.headers,
        "ce-specversion": "1.0",
        "ce-id": "quick-event-1",
        "ce-type": "todo.task.create",
        "ce-source": "/clients/test",
        "content-type": "application/json",
    }
    body = json.dumps({"text": "Call mom tomorrow 5pm p1"})
    response = await client.post("/api/tasks", content=body, headers=headers)
    assert response.status_code == 201, response.text
    assert (response.json()["title"], response.json()["priority"]) == ("Call mom", "urgent")


BAD_TEXTS: list[Any] = ["", "   ", "x" * 256, "a\u0000b", 123, None, ["Call mom"]]


@pytest.mark.parametrize("path", ["/api/tasks/parse", "/api/tasks"])
@pytest.mark.parametrize("text", BAD_TEXTS, ids=["empty", "blank", "long", "nul", "int", "null",
                                                   "list"])  # fmt: skip
async def test_bad_text_is_422_naming_text(
    client: httpx.AsyncClient, berliner: Account, rt: Runtime, path: str, text: Any
) -> None:
    if path == "/api/tasks/parse" or text is not None:
        response = await client.post(path, json={"text": text}, headers=berliner.headers)
        field = "text"
    else:  # a null text on create is no text: then the title is missing
        response = await client.post(path, json={"text": None}, headers=berliner.headers)
        field = "title"
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    async with rt.database.transaction() as conn:
        assert await conn.fetchval("select count(*) from tasks") == 0


async def test_parse_needs_a_token_that_may_write(
    client: httpx.AsyncClient, berliner: Account
) -> None:
    response = await client.post("/api/tasks/parse", json={"text": "x"})
    assert response.status_code == 401


def test_a_json_create_does_not_import_the_parser(rt: Runtime) -> None:
    """The parser (and parsedatetime, ~35 ms) loads only when a text is sent: through the
    function as Knative loads it, a first JSON create imports neither (python -X importtime
    lists every import, in order); the first text does, so the check can see them."""
    script = f"""
import asyncio, sys, uuid
from datetime import UTC, datetime
import httpx
from functions_framework.aio import create_asgi_app
app = create_asgi_app(target="create_task", source={str(ROOT / "functions/create_task/main.py")!r})
from todo.runtime import runtime
from todo.tokens import issue_token

async def main():
    rt = runtime()
    user = uuid.uuid4()
    async with rt.database.transaction() as conn:
        await conn.execute(
        "insert into users (id, email, password_hash, timezone, roles, permissions, "
        "created_at, updated_at) "
        "values ($1, $2, 'x', 'Europe/Berlin', '{{}}', '{{}}', now(), now())",
        user, f"{{user}}@example.com")
    token = issue_token(rt.settings, user, [], ["tasks:write"], datetime.now(UTC))
    headers = {{"authorization": f"Bearer {{token}}"}}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fn") as c:
        for body in ({{"title": "json"}}, {{"text": "text tomorrow"}}):
            print("request", body, file=sys.stderr, flush=True)
            r = await c.post("/api/tasks", json=body, headers=headers)
            print(r.status_code, "parsedatetime" in sys.modules)
    await rt.close()

asyncio.run(main())
"""
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": rt.settings.database_url or "",
        "JWT_SECRET": rt.settings.jwt_secret or "",
    }
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    answers = [line for line in done.stdout.splitlines() if not line.startswith("{")]  # logs
    assert answers == ["201 False", "201 True"]
    _, json_create, text_create = done.stderr.split("request ")
    imported = [line.rsplit("|", 1)[-1].strip() for line in json_create.splitlines()[1:]]
    assert "functions.create_task.main" not in imported  # loaded before the first request
    assert not {"parsedatetime", "todo.quick_add"} & set(imported)
    imported = [line.rsplit("|", 1)[-1].strip() for line in text_create.splitlines()[1:]]
    assert {"parsedatetime", "todo.quick_add"} <= set(imported)
