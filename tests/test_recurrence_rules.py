"""When a repeating task is next due: RRULEs on the user's wall clock, DST, month ends,
leap days, COUNT and UNTIL, and completion mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from todo.recurrence import next_instance

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


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
