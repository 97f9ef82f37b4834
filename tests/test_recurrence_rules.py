"""When a repeating task is next due: RRULEs on the user's wall clock, DST, month ends,
leap days, COUNT and UNTIL, and completion mode."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.rrule_work import periods_walked
from todo.models import INSTANT_RANGE
from todo.recurrence import (
    MAX_COUNT,
    MAX_SKIPPED,
    SEARCH_YEARS,
    NextInstance,
    Unschedulable,
    check_limits,
    next_instance,
    rule_parts,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


def chain(rule: str, zone: ZoneInfo, first_due: datetime, n: int) -> list[datetime]:
    """Complete each instance one minute before it is due, n times; the due times in `zone`."""
    dues, due = [], first_due
    for _ in range(n):
        nxt = next_instance(rule, zone, due, due - timedelta(minutes=1))
        if nxt is None:
            break
        due, rule = nxt.due_at, nxt.rule
        dues.append(due.astimezone(zone))
    return dues


@pytest.mark.parametrize(
    ("zone", "first", "label"),
    [
        (BERLIN, (2026, 3, 27, 9, 0), "spring forward (Mar 29)"),
        (BERLIN, (2026, 10, 23, 9, 0), "fall back (Oct 25)"),
        (NEW_YORK, (2026, 3, 6, 9, 0), "spring forward (Mar 8)"),
        (NEW_YORK, (2026, 10, 30, 9, 0), "fall back (Nov 1)"),
    ],
)
def test_a_daily_nine_oclock_task_stays_at_nine_across_dst(
    zone: ZoneInfo, first: tuple[int, ...], label: str
) -> None:
    dues = chain("FREQ=DAILY", zone, local(zone, *first), 5)
    assert [(d.hour, d.minute) for d in dues] == [(9, 0)] * 5, label
    offsets = {d.utcoffset() for d in dues}
    assert len(offsets) == 2, "the UTC offset changes while the wall time does not"
    assert [d.day for d in dues] == [
        (local(zone, *first) + timedelta(days=i)).astimezone(zone).day for i in range(1, 6)
    ]


def test_weekly_by_day() -> None:
    # Monday 2026-03-02 at 18:30 in Berlin; every Monday and Thursday.
    dues = chain("FREQ=WEEKLY;BYDAY=MO,TH", BERLIN, local(BERLIN, 2026, 3, 2, 18, 30), 4)
    assert [(d.strftime("%a %d"), d.hour, d.minute) for d in dues] == [
        ("Thu 05", 18, 30),
        ("Mon 09", 18, 30),
        ("Thu 12", 18, 30),
        ("Mon 16", 18, 30),
    ]


def test_interval_every_two_weeks() -> None:
    dues = chain("FREQ=WEEKLY;INTERVAL=2", NEW_YORK, local(NEW_YORK, 2026, 1, 5, 8), 3)
    assert [d.date().isoformat() for d in dues] == ["2026-01-19", "2026-02-02", "2026-02-16"]


def test_last_day_of_every_month() -> None:
    dues = chain("FREQ=MONTHLY;BYMONTHDAY=-1", BERLIN, local(BERLIN, 2026, 1, 31, 17), 4)
    assert [d.date().isoformat() for d in dues] == [
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
        "2026-05-31",
    ]
    assert {d.hour for d in dues} == {17}


def test_monthly_from_the_31st_skips_shorter_months_as_rfc_5545_says() -> None:
    dues = chain("FREQ=MONTHLY", BERLIN, local(BERLIN, 2026, 1, 31, 9), 3)
    assert [d.date().isoformat() for d in dues] == ["2026-03-31", "2026-05-31", "2026-07-31"]


def test_a_leap_day_repeats_on_the_next_leap_day() -> None:
    dues = chain("FREQ=YEARLY", NEW_YORK, local(NEW_YORK, 2028, 2, 29, 12), 2)
    assert [d.date().isoformat() for d in dues] == ["2032-02-29", "2036-02-29"]


def test_leap_day_with_bymonthday_minus_one_takes_the_last_day_of_february() -> None:
    dues = chain("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1", BERLIN, local(BERLIN, 2028, 2, 29, 9), 2)
    assert [d.date().isoformat() for d in dues] == ["2029-02-28", "2030-02-28"]


def test_count_ends_the_series_including_the_first_instance() -> None:
    dues = chain("FREQ=DAILY;COUNT=3", BERLIN, local(BERLIN, 2026, 5, 1, 9), 10)
    assert [d.date().isoformat() for d in dues] == ["2026-05-02", "2026-05-03"]


def test_the_next_instance_carries_the_remaining_count() -> None:
    first = next_instance(
        "FREQ=DAILY;COUNT=3", BERLIN, local(BERLIN, 2026, 5, 1, 9), local(BERLIN, 2026, 5, 1, 8)
    )
    assert first is not None
    assert first.rule == "FREQ=DAILY;COUNT=2"


@pytest.mark.parametrize("until", ["20260504T070000Z", "20260504T090000"])
def test_until_ends_the_series_in_utc_or_wall_time(until: str) -> None:
    dues = chain(f"FREQ=DAILY;UNTIL={until}", BERLIN, local(BERLIN, 2026, 5, 1, 9), 10)
    assert [d.date().isoformat() for d in dues] == ["2026-05-02", "2026-05-03", "2026-05-04"]


def test_an_exhausted_rule_has_no_next_instance() -> None:
    assert (
        next_instance(
            "FREQ=DAILY;COUNT=1", BERLIN, local(BERLIN, 2026, 5, 1, 9), local(BERLIN, 2026, 5, 1, 9)
        )
        is None
    )
    assert (
        next_instance(
            "FREQ=DAILY;UNTIL=20260101T000000Z",
            BERLIN,
            local(BERLIN, 2026, 5, 1, 9),
            local(BERLIN, 2026, 5, 1, 9),
        )
        is None
    )


def test_completing_late_skips_to_the_first_occurrence_after_completion() -> None:
    due = local(BERLIN, 2026, 5, 1, 9)
    completed = local(BERLIN, 2026, 5, 4, 12)  # three days late, after that day's 09:00
    nxt = next_instance("FREQ=DAILY;COUNT=10", BERLIN, due, completed)
    assert nxt is not None
    assert nxt.due_at == local(BERLIN, 2026, 5, 5, 9)
    # The skipped occurrences (2nd, 3rd, 4th) and this one count against COUNT.
    assert nxt.rule == "FREQ=DAILY;COUNT=6"


def test_completion_mode_counts_from_the_completion() -> None:
    due = local(BERLIN, 2026, 5, 1, 9)
    completed = local(BERLIN, 2026, 5, 2, 15, 20)
    nxt = next_instance("FREQ=DAILY;INTERVAL=3", BERLIN, due, completed, mode="completion")
    assert nxt is not None
    assert nxt.due_at == local(BERLIN, 2026, 5, 5, 15, 20)


def test_without_a_due_time_the_rule_counts_from_completion() -> None:
    completed = local(NEW_YORK, 2026, 7, 1, 10)
    nxt = next_instance("FREQ=WEEKLY", NEW_YORK, None, completed)
    assert nxt is not None
    assert nxt.due_at == local(NEW_YORK, 2026, 7, 8, 10)


# --- Bounded work: the search starts near the floor and never walks far ---------------


def walked_next_instance(
    rule: str, zone: ZoneInfo, previous_due: datetime | None, completed_at: datetime, mode: str
) -> NextInstance | None:
    """The plain computation: walk the rule from the due time. Right, but unbounded."""
    from dateutil.rrule import rrulestr

    parts = rule_parts(rule)
    count = int(parts.pop("COUNT")) if "COUNT" in parts else None
    if parts.get("UNTIL", "").endswith("Z"):
        moment = datetime.strptime(parts["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        parts["UNTIL"] = moment.astimezone(zone).strftime("%Y%m%dT%H%M%S")
    start = completed_at if mode == "completion" or previous_due is None else previous_due
    local_start = start.astimezone(zone).replace(tzinfo=None)
    floor = max(start, completed_at).astimezone(zone).replace(tzinfo=None)
    schedule = rrulestr(";".join(f"{k}={v}" for k, v in parts.items()), dtstart=local_start)
    found = schedule.after(floor)
    if found is None:
        return None
    next_rule = rule_parts(rule)
    if count is not None:
        steps = sum(1 for x in schedule.between(local_start, found, inc=True) if x > local_start)
        if count - steps < 1:
            return None
        next_rule["COUNT"] = str(count - steps)
    due = found.replace(tzinfo=zone).astimezone(UTC)
    return NextInstance(due, ";".join(f"{k}={v}" for k, v in next_rule.items()))


def outcome(compute: Callable[..., NextInstance | None], *case: Any) -> object:
    """The answer, or that there is none: dateutil refuses some rules from some starts
    (FREQ=HOURLY;INTERVAL=3;BYHOUR=1,4,10 from 08:00 never occurs)."""
    try:
        return compute(*case)
    except (ValueError, Unschedulable):
        return "refused"


# Every FREQ, with INTERVAL > 1, BYDAY (plain and nth), month ends, BYSETPOS, leap days,
# week numbers; how far apart due and completion may be, so walking stays cheap.
RULES: list[tuple[str, timedelta]] = [
    ("FREQ=HOURLY", timedelta(days=60)),
    ("FREQ=HOURLY;INTERVAL=5", timedelta(days=60)),
    ("FREQ=HOURLY;INTERVAL=7;BYDAY=MO,FR", timedelta(days=200)),
    ("FREQ=HOURLY;BYHOUR=9,17;BYMINUTE=30", timedelta(days=200)),
    ("FREQ=HOURLY;INTERVAL=3;BYHOUR=1,4,10", timedelta(days=200)),
    ("FREQ=HOURLY;INTERVAL=25;BYMONTHDAY=31", timedelta(days=800)),
    ("FREQ=DAILY", timedelta(days=3000)),
    ("FREQ=DAILY;INTERVAL=3", timedelta(days=3000)),
    ("FREQ=DAILY;INTERVAL=2;BYDAY=MO,WE", timedelta(days=3000)),
    ("FREQ=DAILY;BYMONTHDAY=31", timedelta(days=3000)),
    ("FREQ=DAILY;INTERVAL=10;BYHOUR=8,20", timedelta(days=3000)),
    ("FREQ=WEEKLY", timedelta(days=20000)),
    ("FREQ=WEEKLY;INTERVAL=2", timedelta(days=20000)),
    ("FREQ=WEEKLY;INTERVAL=3;BYDAY=TU,SU;WKST=SU", timedelta(days=20000)),
    ("FREQ=WEEKLY;BYDAY=MO,TU,WE;BYSETPOS=-1", timedelta(days=20000)),
    ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR,SA;BYSETPOS=1;WKST=TH", timedelta(days=20000)),
    ("FREQ=MONTHLY", timedelta(days=40000)),
    ("FREQ=MONTHLY;INTERVAL=5", timedelta(days=40000)),
    ("FREQ=MONTHLY;BYMONTHDAY=31", timedelta(days=40000)),
    ("FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=23;BYMINUTE=59", timedelta(days=40000)),
    ("FREQ=MONTHLY;BYDAY=-1FR", timedelta(days=40000)),
    ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", timedelta(days=40000)),
    ("FREQ=MONTHLY;INTERVAL=7;BYDAY=2TU", timedelta(days=40000)),
    ("FREQ=YEARLY", timedelta(days=70000)),
    ("FREQ=YEARLY;INTERVAL=3", timedelta(days=70000)),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", timedelta(days=70000)),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1", timedelta(days=70000)),
    ("FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO", timedelta(days=70000)),
    ("FREQ=YEARLY;BYYEARDAY=366", timedelta(days=70000)),
    ("FREQ=YEARLY;BYDAY=20MO", timedelta(days=70000)),
    ("FREQ=YEARLY;INTERVAL=2;BYMONTH=1,7;BYDAY=1SU,-1SA;BYSETPOS=1,-1", timedelta(days=70000)),
    ("FREQ=YEARLY;BYEASTER=0", timedelta(days=70000)),
]
ZONES = [UTC_ZONE, BERLIN, NEW_YORK, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kathmandu")]


def test_starting_near_the_floor_finds_what_walking_from_the_due_time_finds() -> None:
    rng = random.Random(9)
    compared = 0
    for rule, spread in RULES:
        for _ in range(16):
            zone = rng.choice(ZONES)
            # Due on a month end, a leap day, around DST, or anywhere in two centuries.
            due = rng.choice(
                [
                    datetime(2024, 2, 29, 9, 30, tzinfo=zone),
                    datetime(2025, 1, 31, 23, 15, tzinfo=zone),
                    datetime(2026, 3, 29, 2, 30, tzinfo=zone),
                    datetime(1950, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(6 * 10**9)),
                ]
            ).astimezone(UTC)
            completed = due + rng.random() * spread - spread / 20
            ending = rng.choice(
                [
                    "",
                    f";COUNT={rng.randrange(1, 400)}",
                    f";UNTIL={(completed + rng.random() * spread):%Y%m%dT%H%M%SZ}",
                    f";UNTIL={(completed + rng.random() * spread):%Y%m%dT%H%M%S}",
                ]
            )
            mode = rng.choice(["due", "due", "completion"])
            case = (rule + ending, zone, due, completed, mode)
            assert outcome(next_instance, *case) == outcome(walked_next_instance, *case), case
            compared += 1
    assert compared == 16 * len(RULES)


CENTURIES_AGO = datetime(1500, 1, 2, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_a_task_due_centuries_ago_finds_its_next_hour_walking_a_few_periods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with periods_walked(monkeypatch, budget=1_000) as periods:
        nxt = next_instance("FREQ=HOURLY", UTC_ZONE, CENTURIES_AGO, NOW)
    assert nxt == NextInstance(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), "FREQ=HOURLY")
    assert periods.walked < 100  # walking from 1500 takes 4.6 million


def test_counting_what_a_completion_centuries_late_skipped_is_refused_in_bounded_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with (
        periods_walked(monkeypatch, budget=3 * MAX_SKIPPED) as periods,
        pytest.raises(Unschedulable, match=f"more than {MAX_SKIPPED} skipped occurrences"),
    ):
        next_instance("FREQ=HOURLY;COUNT=1000000000", UTC_ZONE, CENTURIES_AGO, NOW)
    assert periods.walked <= MAX_SKIPPED + 100


def test_a_count_that_runs_out_among_the_skipped_ends_the_series_cheaply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with periods_walked(monkeypatch, budget=2 * MAX_COUNT) as periods:
        assert next_instance(f"FREQ=HOURLY;COUNT={MAX_COUNT}", UTC_ZONE, CENTURIES_AGO, NOW) is None
    assert periods.walked <= MAX_COUNT + 100


def test_a_rule_whose_interval_never_meets_its_filter_ends_after_a_bounded_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every seventh day, but only Mondays, counted from a Tuesday: never. dateutil alone
    # would walk every seventh day to the year 9999 (417 000 periods, 1.7 s).
    tuesday = datetime(2026, 3, 3, 9, tzinfo=UTC)
    with periods_walked(monkeypatch, budget=60_000) as periods:
        assert next_instance("FREQ=DAILY;INTERVAL=7;BYDAY=MO", UTC_ZONE, tuesday, NOW) is None
    assert periods.walked <= 2 * SEARCH_YEARS * 366 // 7 + 10


def test_a_rule_given_now_keeps_count_and_until_within_limits() -> None:
    assert check_limits(f"FREQ=DAILY;COUNT={MAX_COUNT}") == f"FREQ=DAILY;COUNT={MAX_COUNT}"
    assert check_limits("FREQ=DAILY;UNTIL=99981231T235959Z")
    assert check_limits("FREQ=DAILY;UNTIL=19000101")
    with pytest.raises(ValueError, match=f"COUNT must be at most {MAX_COUNT}"):
        check_limits(f"FREQ=DAILY;COUNT={MAX_COUNT + 1}")
    for until in ("18991231T235959Z", "18991231", "99990101T000000Z"):
        with pytest.raises(ValueError, match=re.escape(f"UNTIL must be {INSTANT_RANGE}")):
            check_limits(f"FREQ=DAILY;UNTIL={until}")


def test_a_next_instance_beyond_the_stored_range_ends_the_series_or_is_refused() -> None:
    late = datetime(9998, 6, 1, 9, tzinfo=UTC)
    assert next_instance("FREQ=YEARLY", BERLIN, late, late) is None
    assert next_instance("FREQ=DAILY", BERLIN, late, late) is not None
    # An UNTIL (stored before it was limited) past 9999 on a wall clock 14 hours ahead.
    kiritimati = ZoneInfo("Pacific/Kiritimati")
    assert next_instance("FREQ=DAILY;UNTIL=99991231T235959Z", kiritimati, NOW, NOW) is not None
    # A completion in 1500 (only a forged event can say so) would make one due in 1500.
    with pytest.raises(Unschedulable, match="would be due at 1500-01-03"):
        next_instance("FREQ=DAILY", UTC_ZONE, None, CENTURIES_AGO, mode="completion")
