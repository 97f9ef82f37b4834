"""RFC 5545 recurrence rules: checking them, and when a repeating task is next due.

The next due time is found with bounded work whatever the rule and the dates: the search
starts a couple of periods before the floor instead of at the (possibly centuries old) due
time, looks at most a few hundred years ahead, and the occurrences a completion skips are
counted (for COUNT) only up to `MAX_SKIPPED`.
"""

from __future__ import annotations

from datetime import MAXYEAR, UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from todo.models import EARLIEST, INSTANT_RANGE, LATEST

if TYPE_CHECKING:
    from dateutil.rrule import rrule

SHORTHANDS = {"daily": "FREQ=DAILY", "weekly": "FREQ=WEEKLY", "monthly": "FREQ=MONTHLY"}
# Properties that belong to the task, not the rule: the task's due time is the start.
_NOT_ALLOWED = ("DTSTART", "RDATE", "EXDATE", "EXRULE")
_TOO_FREQUENT = ("SECONDLY", "MINUTELY")
_PROBE_START = datetime(2000, 1, 1, 9, 0)
# The Gregorian calendar repeats every 400 years, so a rule that has no occurrence in
# the last 400 years dateutil can represent has none at all.
_CYCLE_YEARS = 400
_LAST_CYCLE_START = datetime(9599, 1, 1)

# A rule given to the API may count this many occurrences at most: a daily task for
# almost three years, a weekly one for nineteen. Counting them all costs ~10 ms.
MAX_COUNT = 1000
# Counting what a completion skips stops here (~80 ms of dateutil); only a rule stored or
# sent before MAX_COUNT existed can get this far, and it is refused instead.
MAX_SKIPPED = 10_000
# The next occurrence is looked for this many years past the floor at least (and at most
# twice that); a rule with none in that time has ended. It bounds the search of a rule
# whose INTERVAL never meets its BY* filters (FREQ=DAILY;INTERVAL=7;BYDAY=MO from a
# Tuesday), which dateutil would otherwise scan to year 9999: 1.7 s.
SEARCH_YEARS = _CYCLE_YEARS

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# With none of these, dateutil takes the day (and for YEARLY the month) from the start.
_DAY_FILTERS = ("BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYWEEKDAY", "BYEASTER")
_SUB_DAILY = {"HOURLY": timedelta(hours=1)}
_DAY_STEPS = {"DAILY": 1, "WEEKLY": 7}


class Unschedulable(Exception):
    """The next instance of this rule cannot be computed with bounded work; says why."""


def parse_rule(rule: str, start: datetime) -> rrule:
    # dateutil loads on first use: only tasks that repeat need it.
    from dateutil.rrule import rrule, rrulestr

    parsed = rrulestr(rule, dtstart=start, forceset=False)
    assert isinstance(parsed, rrule)
    return parsed


def normalize_rule(text: str) -> str:
    """Return the rule in canonical form (`FREQ=...;...`) or raise ValueError saying why not.

    This is what every stored rule passes, old ones included; `check_limits` adds the
    bounds a rule given now must keep.
    """
    rule = text.strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[len("RRULE:") :]
    rule = rule.upper()
    if not rule:
        raise ValueError("rrule is empty")
    if "\n" in rule or any(prop in rule for prop in _NOT_ALLOWED):
        raise ValueError("give a single RRULE; DTSTART, RDATE and EXDATE are not accepted")
    parts = rule_parts(rule)
    if "FREQ" not in parts:
        raise ValueError("rrule needs FREQ (DAILY, WEEKLY, MONTHLY, YEARLY or HOURLY)")
    if parts["FREQ"] in _TOO_FREQUENT:
        raise ValueError("FREQ must be HOURLY or longer")
    if parts.get("INTERVAL", "1").isdigit() and int(parts.get("INTERVAL", "1")) < 1:
        raise ValueError("INTERVAL must be 1 or more")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("rrule cannot have both COUNT and UNTIL")
    # dateutil wants a UTC UNTIL with an aware start and a floating one with a naive start.
    start = (
        _PROBE_START.replace(tzinfo=UTC) if parts.get("UNTIL", "").endswith("Z") else _PROBE_START
    )
    try:
        parse_rule(rule, start)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise ValueError(f"invalid rrule: {exc}") from exc
    if not _occurs_at_all(parts):
        raise ValueError("rrule never occurs")
    return rule


def check_limits(rule: str) -> str:
    """Refuse a normalized rule whose COUNT or UNTIL is beyond what the API accepts now."""
    parts = rule_parts(rule)
    if "COUNT" in parts and int(parts["COUNT"]) > MAX_COUNT:
        raise ValueError(f"COUNT must be at most {MAX_COUNT}")
    if "UNTIL" in parts:
        until = _until(parts["UNTIL"])
        # A floating UNTIL is a wall time anywhere; read as UTC it is off by hours at most.
        if not EARLIEST <= (until if until.tzinfo else until.replace(tzinfo=UTC)) < LATEST:
            raise ValueError(f"UNTIL must be {INSTANT_RANGE}")
    return rule


def _occurs_at_all(parts: dict[str, str]) -> bool:
    """Whether a rule can ever occur, checked cheaply.

    dateutil searches up to year 9999 for the next match of an impossible rule (BYMONTH=2;
    BYMONTHDAY=30), one step per FREQ unit: seconds of CPU for a DAILY or HOURLY rule.
    The BY* filters select the same days whatever the FREQ, so a YEARLY rule with the same
    filters, searched over one 400-year cycle, answers in milliseconds. BYSETPOS picks
    from each FREQ period, so rules with it are searched as given (only MONTHLY, WEEKLY
    and YEARLY take it, which keeps that search short).
    """
    if "BYSETPOS" in parts:
        if parts["FREQ"] not in ("WEEKLY", "MONTHLY", "YEARLY"):
            raise ValueError("BYSETPOS works with WEEKLY, MONTHLY or YEARLY only")
        probe = {k: v for k, v in parts.items() if k not in ("COUNT", "UNTIL", "INTERVAL")}
    else:
        probe = {k: v for k, v in parts.items() if k.startswith("BY") or k == "WKST"}
        probe["FREQ"] = "YEARLY"
    rule = parse_rule(";".join(f"{k}={v}" for k, v in probe.items()), _LAST_CYCLE_START)
    return rule.after(_LAST_CYCLE_START, inc=True) is not None


class NextInstance(NamedTuple):
    due_at: datetime  # aware, UTC
    rule: str  # the rule the next instance carries (its COUNT is what remains)


def rule_parts(rule: str) -> dict[str, str]:
    return dict(part.partition("=")[::2] for part in rule.split(";") if part)


def _join(parts: dict[str, str]) -> str:
    return ";".join(f"{key}={value}" for key, value in parts.items())


def next_instance(
    rule: str,
    zone: ZoneInfo,
    previous_due: datetime | None,
    completed_at: datetime,
    mode: str = "due",
) -> NextInstance | None:
    """When the next instance of a repeating task is due, or None when the rule has ended.

    Computed on the wall clock of `zone`, so a 09:00 task stays at 09:00 across
    daylight-saving changes. In "due" mode the rule counts from the previous due time and
    the next instance is the first occurrence after both it and the completion, so
    completing late does not leave a trail of overdue copies; in "completion" mode (or
    without a due time) it counts from the completion. COUNT includes the instance being
    completed and every occurrence skipped over; counting more than `MAX_SKIPPED` of them
    raises Unschedulable, as does a rule or date dateutil cannot compute with, or a next
    due time before the earliest instant stored. One after the latest ends the series.

    CPU-bound for up to a few hundred milliseconds: run it off the event loop.
    """
    parts = rule_parts(rule)
    count = int(parts.pop("COUNT")) if "COUNT" in parts else None
    start = completed_at if mode == "completion" or previous_due is None else previous_due
    try:
        until = _until_on_wall(parts.pop("UNTIL"), zone) if "UNTIL" in parts else None
        local_start = _wall(start, zone)
        found = _first_after(parts, local_start, _wall(max(start, completed_at), zone), until)
        if found is None:
            return None
        next_rule = rule_parts(rule)
        if count is not None:
            remaining = count - _occurrences(parts, local_start, found, count)
            if remaining < 1:
                return None
            next_rule["COUNT"] = str(remaining)
        due = found.replace(tzinfo=zone).astimezone(UTC)
        if due < EARLIEST:
            raise Unschedulable(f"the next instance would be due at {due:%Y-%m-%d}")
        if due >= LATEST:
            return None  # nothing later can be stored
    except (ValueError, OverflowError, Unschedulable) as exc:
        raise Unschedulable(f"cannot compute the next instance of {rule}: {exc}") from None
    return NextInstance(due, _join(next_rule))


def _first_after(
    parts: dict[str, str], start: datetime, floor: datetime, until: datetime | None
) -> datetime | None:
    """The rule's first occurrence after `floor`, counting from `start` (naive wall times).

    The same as dateutil's `rrule(start).after(floor)`, found without walking from `start`:
    the defaults dateutil takes from the start become explicit filters, the search starts
    whole INTERVALs later (so the pattern keeps its phase) two intervals before the floor,
    and everything moves by whole 400-year Gregorian cycles (same weekdays, same leap years)
    so that dateutil's own stop at year 9999 ends the search between `SEARCH_YEARS` and
    `SEARCH_YEARS + 400` years after the floor.
    """
    explicit = _explicit_defaults(parts, start)
    search_start = _jumped(explicit, start, floor)
    shift = 0 if "BYEASTER" in parts else _cycles_ahead(floor)
    if until is not None:
        if until < floor:
            return None
        if until.year + shift > MAXYEAR:
            until = None  # beyond where the search stops anyway
    schedule = parse_rule(_join(explicit), _shifted(search_start, shift))
    if until is not None:
        schedule = schedule.replace(until=_shifted(until, shift))
    found = schedule.after(_shifted(floor, shift))
    return None if found is None else _shifted(found, -shift)


def _explicit_defaults(parts: dict[str, str], start: datetime) -> dict[str, str]:
    """`parts` with what dateutil derives from the start written out, so another start
    (a jumped one) keeps the pattern: the 31st stays the 31st, 09:00 stays 09:00."""
    freq = parts["FREQ"]
    explicit = dict(parts)
    if not any(name in parts for name in _DAY_FILTERS):
        if freq == "YEARLY":
            explicit.setdefault("BYMONTH", str(start.month))
            explicit["BYMONTHDAY"] = str(start.day)
        elif freq == "MONTHLY":
            explicit["BYMONTHDAY"] = str(start.day)
        elif freq == "WEEKLY":
            explicit["BYDAY"] = _WEEKDAYS[start.weekday()]
    if freq not in _SUB_DAILY:
        explicit.setdefault("BYHOUR", str(start.hour))
    explicit.setdefault("BYMINUTE", str(start.minute))
    explicit.setdefault("BYSECOND", str(start.second))
    return explicit


def _jumped(parts: dict[str, str], start: datetime, floor: datetime) -> datetime:
    """A start whole INTERVALs after `start`, at least two INTERVALs before `floor`.

    Two, because dateutil's first WEEKLY period runs only from the start's day, which
    changes what BYSETPOS picks in that week. A MONTHLY or YEARLY start jumps to the first
    of its month or year: no day to clamp (January 31st plus one month), and with the
    defaults explicit the day of the start no longer matters.
    """
    freq, interval = parts["FREQ"], int(parts.get("INTERVAL", "1"))
    if freq == "YEARLY":
        periods = floor.year - start.year
    elif freq == "MONTHLY":
        periods = (floor.year - start.year) * 12 + floor.month - start.month
    elif freq in _DAY_STEPS:
        periods = (floor.date() - start.date()).days // _DAY_STEPS[freq]
    elif freq in _SUB_DAILY:
        periods = (floor - start) // _SUB_DAILY[freq]
    else:
        return start
    skip = (periods // interval - 2) * interval
    if skip <= 0:
        return start
    if freq == "YEARLY":
        return datetime(start.year + skip, 1, 1)
    if freq == "MONTHLY":
        month = start.month - 1 + skip
        return datetime(start.year + month // 12, month % 12 + 1, 1)
    if freq in _DAY_STEPS:
        return start + timedelta(days=skip * _DAY_STEPS[freq])
    return start + skip * _SUB_DAILY[freq]


def _cycles_ahead(floor: datetime) -> int:
    """Years, whole 400-year cycles, that put `floor` within 2 * SEARCH_YEARS of 9999."""
    return _CYCLE_YEARS * max(0, (MAXYEAR - SEARCH_YEARS - floor.year) // _CYCLE_YEARS)


def _shifted(moment: datetime, years: int) -> datetime:
    return moment.replace(year=moment.year + years) if years else moment


def _occurrences(parts: dict[str, str], start: datetime, through: datetime, count: int) -> int:
    """How many occurrences fall after `start` up to `through`, or `count` once it is reached.

    This walks from the start (what it counts is what lies between), so it is capped.
    """
    seen = 0
    for moment in parse_rule(_join(parts), start):
        if moment <= start:
            continue
        seen += 1
        if moment >= through or seen >= count:
            return seen
        if seen >= MAX_SKIPPED:
            raise Unschedulable(
                f"COUNT would need more than {MAX_SKIPPED} skipped occurrences counted"
            )
    return seen


def _until(text: str) -> datetime:
    """UNTIL as dateutil reads it: aware (UTC) when it ends in Z, floating otherwise."""
    from dateutil import parser

    return parser.parse(text)


def _until_on_wall(text: str, zone: ZoneInfo) -> datetime | None:
    """UNTIL as a wall time in `zone`; None when that lies past the year 9999 (no end)."""
    until = _until(text)
    try:
        return _wall(until, zone)
    except OverflowError:
        if until.year < MAXYEAR:
            raise
        return None


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """The zone's wall-clock time at `moment`, without a zone (dateutil's floating time).

    A floating moment (an UNTIL without Z) already is one.
    """
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(zone).replace(tzinfo=None)
