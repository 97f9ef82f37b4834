"""RFC 5545 recurrence rules: checking them, and when a repeating task is next due."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from dateutil.rrule import rrule

SHORTHANDS = {"daily": "FREQ=DAILY", "weekly": "FREQ=WEEKLY", "monthly": "FREQ=MONTHLY"}
# Properties that belong to the task, not the rule: the task's due time is the start.
_NOT_ALLOWED = ("DTSTART", "RDATE", "EXDATE", "EXRULE")
_TOO_FREQUENT = ("SECONDLY", "MINUTELY")
_PROBE_START = datetime(2000, 1, 1, 9, 0)
# The Gregorian calendar repeats every 400 years, so a rule that has no occurrence in
# the last 400 years dateutil can represent has none at all.
_LAST_CYCLE_START = datetime(9599, 1, 1)


def parse_rule(rule: str, start: datetime) -> rrule:
    # dateutil loads on first use: only tasks that repeat need it.
    from dateutil.rrule import rrule, rrulestr

    parsed = rrulestr(rule, dtstart=start, forceset=False)
    assert isinstance(parsed, rrule)
    return parsed


def normalize_rule(text: str) -> str:
    """Return the rule in canonical form (`FREQ=...;...`) or raise ValueError saying why not."""
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
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"invalid rrule: {exc}") from exc
    if not _occurs_at_all(parts):
        raise ValueError("rrule never occurs")
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
    completed and every occurrence skipped over.
    """
    parts = rule_parts(rule)
    count = int(parts.pop("COUNT")) if "COUNT" in parts else None
    until = parts.get("UNTIL", "")
    if until.endswith("Z"):
        # dateutil wants a floating UNTIL with a floating start: express it in the zone.
        moment = datetime.strptime(until, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        parts["UNTIL"] = _wall(moment, zone).strftime("%Y%m%dT%H%M%S")

    by_completion = mode == "completion" or previous_due is None
    start = completed_at if by_completion or previous_due is None else previous_due
    floor = max(start, completed_at)
    local_start = _wall(start, zone)
    schedule = parse_rule(_join(parts), local_start)
    found = schedule.after(_wall(floor, zone))
    if found is None:
        return None
    next_rule = dict(rule_parts(rule))
    if count is not None:
        steps = sum(1 for x in schedule.between(local_start, found, inc=True) if x > local_start)
        remaining = count - steps
        if remaining < 1:
            return None
        next_rule["COUNT"] = str(remaining)
    due = found.replace(tzinfo=zone).astimezone(UTC)
    return NextInstance(due, _join(next_rule))


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """The zone's wall-clock time at `moment`, without a zone (dateutil's floating time)."""
    return moment.astimezone(zone).replace(tzinfo=None)
