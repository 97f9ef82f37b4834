"""Base classes and shared field types of the API's pydantic models.

Inputs forbid unknown fields, so a typo (`titel`) is a 422 naming it instead of a silently
dropped value. Every model builds its validator on first use (`defer_build`), so a
function starts without building the models it never uses.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

# Sequence numbers are Postgres bigints.
MAX_SEQUENCE = 2**63 - 1

Status = Literal["pending", "in_progress", "completed"]
Priority = Literal["low", "medium", "high", "urgent"]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


Timezone = Annotated[str, AfterValidator(check_timezone)]

# Every instant the API stores or compares lies in this range. Python's datetime spans the
# years 1 to 9999, and an offset of +14:00 or a reminder's distance can push an instant past
# either end, which used to raise OverflowError deep in the pipeline (the tick included).
# Inside this range every computation (reminders, repeats, a wall clock 14 hours ahead)
# stays representable. The database holds the same bounds (sql/008_instant_bounds.sql).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
INSTANT_RANGE = "from 1900-01-01T00:00:00Z up to 9999-01-01T00:00:00Z"


def in_range(moment: datetime) -> datetime:
    """`moment` unchanged, or ValueError when it lies outside the API's range."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"must be {INSTANT_RANGE}") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"must be {INSTANT_RANGE}")
    return moment


def earlier(moment: datetime, by: timedelta) -> datetime:
    """`moment - by`, or ValueError when the result leaves the API's range."""
    try:
        return in_range(moment - by)
    except OverflowError:
        raise ValueError(f"must be {INSTANT_RANGE}") from None


# RFC 3339's date-time, as JSON Schema's format names it: seconds and an offset required.
# pydantic alone would also take numbers (as Unix times) and times without seconds.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def rfc3339_text(value: Any) -> Any:
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time, such as 2026-03-01T09:00:00+01:00")
    if isinstance(value, int | float):
        raise ValueError("must be an RFC 3339 date-time text, not a number")
    return value


# An RFC 3339 time with an offset, inside the API's range.
Instant = Annotated[
    AwareDatetime,
    BeforeValidator(rfc3339_text),
    AfterValidator(in_range),
    Field(description=f"RFC 3339 with an offset, {INSTANT_RANGE}."),
]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50)
]


def iso_duration(value: timedelta) -> str:
    """An ISO 8601 duration in the form RFC 3339's grammar (appendix A) allows, which JSON
    Schema's `duration` format checks: days, then hours, minutes, seconds without gaps
    ("P1DT9H0M49S"); pydantic's own form ("P1Y50D", "PT9H49S") breaks that grammar."""
    seconds = (value - timedelta(days=value.days)).total_seconds()
    units = [(seconds // 3600, "H"), (seconds % 3600 // 60, "M"), (seconds % 60, "S")]
    given = [i for i, (amount, _) in enumerate(units) if amount]
    date = f"{value.days}D" if value.days else ""
    if not given:
        return f"P{date}" if date else "PT0S"
    time = "".join(f"{_number(n)}{unit}" for n, unit in units[given[0] : given[-1] + 1])
    return f"P{date}T{time}"


def _number(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else f"{n:.6f}".rstrip("0")


def duration_text(value: Any) -> Any:
    """A duration in a body is ISO 8601 text, as the document says; pydantic alone would also
    take a number of seconds."""
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 duration such as PT15M, not a number")
    return value


# A duration as a client gives it.
DurationInput = Annotated[timedelta, BeforeValidator(duration_text)]
# A duration as the API answers it (see iso_duration).
Duration = Annotated[timedelta, PlainSerializer(iso_duration, return_type=str, when_used="json")]


# One-of-two inputs (`remind_at` or `before`, `minutes` or `until`): the document says
# exactly one of them is given and not null, as the validator checks.
def exactly_one_of(first: str, second: str) -> dict[str, Any]:
    def given(name: str, other: str) -> dict[str, Any]:
        return {
            "required": [name],
            "properties": {name: {"not": {"type": "null"}}, other: {"type": "null"}},
        }

    return {"oneOf": [given(first, second), given(second, first)]}


Cursor = Annotated[
    str,
    Field(
        max_length=1000,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The `next_cursor` of the previous page (opaque).",
    ),
]


class Limit(Input):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Cursor | None = None
