"""Quick add: the line a person types, read into the fields of a task.

    Pay rent every month on the 1st at 9am #home !high remind 30m before

Dates and times are parsedatetime's: 35 ms to import, well under a millisecond a line, and
it says where in the text each date lies. dateparser, measured against it, took 100-180 ms
to import and 3 s for its first `search_dates`, and read "on the 1st" as January 2nd of the
next year. What no library reads is a small grammar here: repeats (as RFC 5545 rules for
dateutil), #tags, priorities, reminders and `in N minutes/hours`. Each pass blanks what it
used, so the offsets of every part stay those of the text as sent, and the next pass does not
read it again: tags, priority, reminders, repeat, then the due date.

Times are wall-clock times in the account's zone. One in the gap the clocks skip moves on
by the gap (02:30 on the night summer time starts is 03:30); one that happens twice is the
first (zoneinfo's fold=0). "in 2 hours" counts real hours from now.

Imported only when a text arrives, so parsedatetime stays off a JSON create's cold start.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, NamedTuple, get_args
from uuid import UUID
from zoneinfo import ZoneInfo

import parsedatetime
from pydantic import ValidationError

from todo import recurrence as rules
from todo.db import Connection
from todo.errors import AccountGone
from todo.models import Priority, in_range
from todo.quick_add_models import Ignored, ParsedReminder, ParsedTask, Part, PartKind
from todo.task_models import MAX_TAGS, NewTask, Recurrence, TaskCreate
from todo.web import invalid_input

# A date without a time is due by the end of that day, so it is overdue from the next one.
END_OF_DAY = time(23, 59)
# Todoist's p1 is its most urgent; the API's four priorities in the same order.
PRIORITIES: dict[str, Priority] = {"p1": "urgent", "p2": "high", "p3": "medium", "p4": "low"}
NAMED_PRIORITIES: dict[str, Priority] = {name: name for name in get_args(Priority)}

_calendar = parsedatetime.Calendar(version=parsedatetime.VERSION_CONTEXT_STYLE)

_END = r"(?![^\s.,;:!?])"  # a word ends at a space, punctuation or the end of the text
_TAG = re.compile(r"(?<!\S)#([^\s#]+?)" + _END)
_PRIORITY = re.compile(r"(?<!\S)(?:!([a-z]+)|(p\d+))" + _END, re.I)
_CLOCK = r"(?P<clock>(?P<h>\d{1,2})(?::(?P<min>\d{2}))?\s*(?P<ampm>am|pm)?|noon|midnight)"
_AMOUNT = r"(?P<n>\d{1,4}|an?|one)\s*(?P<unit>minutes?|mins?|m|hours?|hrs?|h|days?|d)"
_REMINDER = re.compile(
    rf"(?<!\S)remind(?:\s+me)?\s+(?:{_AMOUNT}\s+before|at\s+{_CLOCK}){_END}", re.I
)
_IN = re.compile(rf"(?<!\S)in\s+{_AMOUNT}{_END}", re.I)
_AT = re.compile(rf"(?<!\S)at\s+{_CLOCK}{_END}", re.I)

_WEEKDAYS = {
    "mon": "MO", "monday": "MO", "tue": "TU", "tues": "TU", "tuesday": "TU",
    "wed": "WE", "weds": "WE", "wednesday": "WE", "thu": "TH", "thur": "TH",
    "thurs": "TH", "thursday": "TH", "fri": "FR", "friday": "FR",
    "sat": "SA", "saturday": "SA", "sun": "SU", "sunday": "SU",
}  # fmt: skip
_DAY = "(?:" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + ")"
_DAYS = rf"{_DAY}(?:\s*(?:,\s*and|,|and)\s*{_DAY})*"
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
             "fourth": 4, "4th": 4, "last": -1}  # fmt: skip
_ORDINAL = "(?:" + "|".join(_ORDINALS) + ")"
_MONTH_DAY = r"(?:(?P<md>\d{1,2})(?:st|nd|rd|th)|(?P<lastday>last\s+day))"
_EVERY = re.compile(r"(?<!\S)every(?P<bang>!)?\s+", re.I)
_REPEATS = [
    re.compile(p + _END, re.I)
    for p in (
        r"(?P<weekdays>weekday)s?|(?P<weekend>weekend)s?",
        rf"(?:(?P<n>\d{{1,3}}|other)\s+)?(?P<unit>day|week|month|year)s?"
        rf"(?:\s+on\s+(?:(?P<on>{_DAYS})|the\s+{_MONTH_DAY}|the\s+(?P<nth>{_ORDINAL})\s+"
        rf"(?P<nthday>{_DAY})))?",
        rf"(?P<days>{_DAYS})",
        rf"(?P<nth>{_ORDINAL})\s+(?P<nthday>{_DAY})",
        rf"(?:the\s+)?{_MONTH_DAY}",
    )
]
_FREQUENCIES = {"day": "DAILY", "week": "WEEKLY", "month": "MONTHLY", "year": "YEARLY"}
# What parsedatetime finds but no one means as a date: a bare number ("PR 1234" is 12:34
# to it) or a month's name alone ("buy may flowers").
_NOT_A_DATE = re.compile(
    r"\d+|(?:on\s+|in\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?",
    re.I,
)
# parsedatetime reads meals as times of day ("Team lunch" as 12:00): in a title they are
# the task, not its time.
_MEAL = re.compile(r"\b(?:breakfast|lunch|dinner)\b", re.I)
# "by friday", "due mon": the word before a date belongs to it, not to the title.
_LEAD = re.compile(r"(?<!\S)(?:due\s+)?(?:by|due|on)\s+$", re.I)
# Left over after every pass, these look meant as syntax: reported, kept in the title.
_SYNTAX = re.compile(
    r"(?<!\S)(?:[#!]\S*|every!?|remind|p\d+|\d{1,2}(?::\d{2})?\s*(?:am|pm)|"
    r"\d{1,2}(?:st|nd|rd|th))" + _END,
    re.I,
)


@dataclass
class _Line:
    """The text, what has been read from it, and the text left for the next pass."""

    text: str
    left: str = ""
    parts: list[Part] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.left = self.text

    def find(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        return pattern.finditer(self.left)

    def blank(self, start: int, end: int) -> None:
        self.left = self.left[:start] + " " * (end - start) + self.left[end:]

    def take(self, kind: PartKind, start: int, end: int) -> None:
        self.parts.append(Part(kind=kind, start=start, end=end, text=self.text[start:end]))
        self.blank(start, end)

    def ignore(self, start: int, end: int, reason: str) -> None:
        if not any(i.start < end and start < i.end for i in self.ignored):
            self.ignored.append(
                Ignored(start=start, end=end, text=self.text[start:end], reason=reason)
            )

    def title(self) -> str:
        kept, at = [], 0
        for part in sorted(self.parts, key=lambda p: p.start):
            kept.append(self.text[at : part.start])
            at = part.end
        kept.append(self.text[at:])
        return " ".join("".join(kept).split())


class _Reminder(NamedTuple):
    start: int
    end: int
    before: timedelta | None
    at: time | None


def parse(text: str, now: datetime, zone: ZoneInfo) -> ParsedTask:
    """What `text` says, read at `now` in `zone`. Never raises for what the text says."""
    line = _Line(text)
    tags = _tags(line)
    priority = _priority(line)
    reminders = _reminders(line)
    repeat = _repeat(line)
    due = _due(line, now, zone, repeat)
    timed = _resolve_reminders(line, reminders, due, now, zone)
    for found in line.find(_SYNTAX):
        line.ignore(found.start(), found.end(), "not understood; kept in the title")
    return ParsedTask(
        title=line.title() or " ".join(text.split()),
        due_at=due,
        priority=priority,
        tags=tags,
        recurrence=repeat,
        reminders=timed,
        parts=sorted(line.parts, key=lambda p: p.start),
        ignored=sorted(line.ignored, key=lambda i: i.start),
        timezone=zone.key,
    )


def _tags(line: _Line) -> list[str]:
    tags: list[str] = []
    for found in line.find(_TAG):
        name = found[1].lower()
        if len(name) > 50:
            line.ignore(found.start(), found.end(), "a tag is at most 50 characters")
        elif name not in tags and len(tags) == MAX_TAGS:
            line.ignore(found.start(), found.end(), f"at most {MAX_TAGS} tags")
        else:
            tags += [] if name in tags else [name]
            line.take("tag", found.start(), found.end())
    return tags


def _priority(line: _Line) -> Priority | None:
    chosen: Priority | None = None
    for found in line.find(_PRIORITY):
        word = (found[1] or found[2]).lower()
        value = (PRIORITIES if found[2] else NAMED_PRIORITIES).get(word)
        if value is None:
            line.ignore(found.start(), found.end(), "use !low .. !urgent or p1 (urgent) .. p4")
        elif chosen is not None:
            line.ignore(found.start(), found.end(), "a priority was given already")
        else:
            chosen = value
            line.take("priority", found.start(), found.end())
    return chosen


def _reminders(line: _Line) -> list[_Reminder]:
    """Reminders as said; they become moments once the due time is known. Blanked now, so
    the due pass does not read their times."""
    said: list[_Reminder] = []
    for found in line.find(_REMINDER):
        clock = _clock(found) if found["clock"] else None
        before = None if found["clock"] else _duration(found)
        if clock is None and before is None:
            line.ignore(found.start(), found.end(), "not a time of day")
            continue
        said.append(_Reminder(found.start(), found.end(), before, clock))
        line.blank(found.start(), found.end())
    return said


def _repeat(line: _Line) -> Recurrence | None:
    chosen: Recurrence | None = None
    for every in line.find(_EVERY):
        rule, end = _rule(line.left, every.end())
        if rule is None:
            word_end = every.end() + len(line.left[every.end() :].split(" ", 1)[0])
            line.ignore(every.start(), word_end, "a repeat this parser does not read")
        elif chosen is not None:
            line.ignore(every.start(), end, "a repeat was given already")
        else:
            chosen = Recurrence(rrule=rule, mode="completion" if every["bang"] else "due")
            line.take("recurrence", every.start(), end)
    return chosen


def _rule(text: str, at: int) -> tuple[str | None, int]:
    """The RRULE said at `at` (after "every"), and where it ends; None when none is."""
    for pattern in _REPEATS:
        found = pattern.match(text, at)
        if found is None:
            continue
        parts = _rule_parts(found.groupdict())
        if parts is None:
            return None, at
        rule = ";".join(f"{key}={value}" for key, value in parts.items())
        try:
            return rules.normalize_rule(rule), found.end()
        except ValueError:
            return None, at
    return None, at


def _rule_parts(said: dict[str, Any]) -> dict[str, str] | None:
    if said.get("weekdays"):
        return {"FREQ": "WEEKLY", "BYDAY": "MO,TU,WE,TH,FR"}
    if said.get("weekend"):
        return {"FREQ": "WEEKLY", "BYDAY": "SA,SU"}
    days = said.get("on") or said.get("days")
    if said.get("unit"):
        parts = {"FREQ": _FREQUENCIES[said["unit"].lower()]}
        n = said.get("n")
        interval = 2 if n and n.lower() == "other" else int(n or 1)
        if interval < 1:
            return None
        if interval > 1:
            parts["INTERVAL"] = str(interval)
    elif days:
        parts = {"FREQ": "WEEKLY"}
    else:
        parts = {"FREQ": "MONTHLY"}
    if days:
        if parts["FREQ"] != "WEEKLY":
            return None
        named = re.findall(_DAY, days, re.I)
        parts["BYDAY"] = ",".join(dict.fromkeys(_WEEKDAYS[d.lower()] for d in named))
    if said.get("md") or said.get("lastday") or said.get("nth"):
        if parts["FREQ"] != "MONTHLY":
            return None
        if said.get("nth"):
            nth = _ORDINALS[said["nth"].lower()]
            parts["BYDAY"] = f"{nth}{_WEEKDAYS[said['nthday'].lower()]}"
        else:
            day = -1 if said.get("lastday") else int(said["md"])
            if not (day == -1 or 1 <= day <= 31):
                return None
            parts["BYMONTHDAY"] = str(day)
    return parts


class _Hit(NamedTuple):
    when: datetime
    has_date: bool
    has_time: bool
    start: int
    end: int


def _due(line: _Line, now: datetime, zone: ZoneInfo, repeat: Recurrence | None) -> datetime | None:
    """When the task is due (UTC), from the date and time the text names, or the first
    occurrence of its repeat; None when it names neither."""
    wall_now = now.astimezone(zone).replace(tzinfo=None)
    for found in line.find(_IN):
        delta = _duration(found)
        if delta is not None and not found["unit"].lower().startswith("d"):  # days: dates
            try:
                moment = in_range(now.astimezone(UTC) + delta)
            except (ValueError, OverflowError):
                break
            line.take("due", found.start(), found.end())
            return moment  # real time: a repeat starts from it, as from any due time
    date_hit = time_hit = None
    for hit in _hits(line.left, wall_now):
        if hit.has_date and date_hit is None:
            date_hit = hit
            time_hit = hit if hit.has_time else time_hit
        elif hit.has_time and not hit.has_date and time_hit is None:
            time_hit = hit
        else:
            line.ignore(hit.start, hit.end, "a second date; the first is used")
    used = [hit for hit in {date_hit, time_hit} if hit is not None]
    clock = time_hit.when.time() if time_hit else None
    at = None
    if clock is None:
        at = next((m for m in line.find(_AT) if _clock(m) is not None), None)
        clock = _clock(at) if at else None
    if date_hit is None and clock is None and repeat is None:
        return None
    try:
        due = _due_moment(date_hit, clock, wall_now, zone, repeat)
    except (ValueError, OverflowError):
        due = None
    if due is None:
        for hit in used:
            line.ignore(hit.start, hit.end, "out of the range of dates kept")
        return None
    for hit in used:
        line.take("due", hit.start, hit.end)
    if at is not None:
        line.take("due", at.start(), at.end())
    return due


def _due_moment(
    date_hit: _Hit | None,
    clock: time | None,
    wall_now: datetime,
    zone: ZoneInfo,
    repeat: Recurrence | None,
) -> datetime | None:
    """The due time (UTC) for a date and a time of day, either of them possibly missing,
    moved to the repeat's first occurrence from then on. Raises ValueError or OverflowError
    past the range of instants kept."""
    if date_hit is not None:
        wall = datetime.combine(date_hit.when.date(), clock or END_OF_DAY)
    else:
        wall = datetime.combine(wall_now.date(), clock or END_OF_DAY)
        if wall < wall_now:  # a time that has passed today means tomorrow's
            wall += timedelta(days=1)
    if repeat is not None:
        first = rules.parse_rule(repeat.rrule, wall).after(wall, inc=True)
        if first is None:
            return None
        wall = first
    return in_range(wall.replace(tzinfo=zone).astimezone(UTC))


def _hits(text: str, wall_now: datetime) -> Iterator[_Hit]:
    """The dates and times parsedatetime finds, trimmed to their words."""
    try:
        found = _calendar.nlp(text, sourceTime=wall_now) or ()
    except (ValueError, OverflowError):  # a date it computes past the year 9999
        found = ()
    for when, context, start, _, phrase in found:
        words = phrase.strip()
        if _NOT_A_DATE.fullmatch(words) or _MEAL.search(words):
            continue
        start += len(phrase) - len(phrase.lstrip())
        end = start + len(words)
        lead = _LEAD.search(text, 0, start)
        yield _Hit(when, context.hasDate, context.hasTime, lead.start() if lead else start, end)


def _resolve_reminders(
    line: _Line, said: list[_Reminder], due: datetime | None, now: datetime, zone: ZoneInfo
) -> list[ParsedReminder]:
    """The reminders said, as the API takes them; one that cannot be kept is reported."""
    kept = []
    for reminder in said:
        if reminder.before is not None:
            if due is None:
                line.ignore(reminder.start, reminder.end, "a reminder before needs a due time")
                continue
            if due - reminder.before < now:
                line.ignore(reminder.start, reminder.end, "would remind in the past")
                continue
            kept.append(ParsedReminder(before=reminder.before))
        else:
            assert reminder.at is not None
            day = (due or now).astimezone(zone).date()
            moment = datetime.combine(day, reminder.at, zone).astimezone(UTC)
            if due is None and moment < now:
                moment = datetime.combine(day + timedelta(days=1), reminder.at, zone)
                moment = moment.astimezone(UTC)
            if moment < now:
                line.ignore(reminder.start, reminder.end, "would remind in the past")
                continue
            kept.append(ParsedReminder(remind_at=moment))
        line.parts.append(
            Part(
                kind="reminder",
                start=reminder.start,
                end=reminder.end,
                text=line.text[reminder.start : reminder.end],
            )
        )
    return kept


def _clock(found: re.Match[str]) -> time | None:
    """The time of day a `_CLOCK` match names: 12-hour with am/pm, 24-hour without."""
    word = found["clock"].lower()
    if word in ("noon", "midnight"):
        return time(12) if word == "noon" else time(0)
    hour, minute = int(found["h"]), int(found["min"] or 0)
    if found["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if found["ampm"].lower() == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _duration(found: re.Match[str]) -> timedelta | None:
    n, unit = found["n"].lower(), found["unit"].lower()
    amount = 1 if n in ("a", "an", "one") else int(n)
    if amount < 1:
        return None
    if unit.startswith("m"):
        return timedelta(minutes=amount)
    if unit.startswith("h"):
        return timedelta(hours=amount)
    return timedelta(days=amount)


async def account_zone(conn: Connection, user_id: UUID) -> ZoneInfo:
    """The time zone the account reads its dates in."""
    name = await conn.fetchval("select timezone from users where id = $1", user_id)
    if name is None:
        raise AccountGone()
    return ZoneInfo(name)


def task_from(body: NewTask, parsed: ParsedTask) -> TaskCreate:
    """The task to create: what `parsed` read, with each field `body` gives besides the text
    replacing the one read."""
    read: dict[str, Any] = {
        "title": parsed.title,
        "due_at": parsed.due_at,
        "tags": parsed.tags,
        "reminders": [r.model_dump(exclude_none=True) for r in parsed.reminders],
        "recurrence": parsed.recurrence.model_dump() if parsed.recurrence else None,
    }
    if parsed.priority is not None:
        read["priority"] = parsed.priority
    try:
        return TaskCreate.model_validate({**read, **body.explicit()})
    except ValidationError as exc:
        raise invalid_input(exc) from None
