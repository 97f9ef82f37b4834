"""Finding a repeating task's next instance: the bounded search against walking the rule.

For each rule, a task due `--years` ago is completed now; its next instance is computed by
`todo.recurrence.next_instance` (the search starts near the completion) and, as the
baseline, by dateutil walking the rule from the due time. Then the cases the bound exists
for, without a baseline: the task of issue 9 (due 1500, hourly; walking took 31 s), its
COUNT=10^9 twin (refused after 10,000 counted) and a rule whose INTERVAL never meets its
filter (walked to the year 9999 it takes 1.7 s). Target: every one within 500 ms.

    python -m bench.recurrence [--years N] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from todo.recurrence import Unschedulable, next_instance

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Berlin")
TARGET_MS = 500.0
RULES = [
    "FREQ=HOURLY",
    "FREQ=DAILY;BYDAY=MO,WE,FR",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
]
WORST = [
    ("FREQ=HOURLY", datetime(1500, 1, 2, tzinfo=UTC)),
    ("FREQ=HOURLY;COUNT=1000000000", datetime(1500, 1, 2, tzinfo=UTC)),
    ("FREQ=DAILY;INTERVAL=7;BYDAY=MO", datetime(2026, 6, 2, 9, tzinfo=UTC)),  # a Tuesday
]


def median_ms(compute: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        compute()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def bounded(rule: str, due: datetime) -> Callable[[], object]:
    def compute() -> object:
        try:
            return next_instance(rule, ZONE, due, NOW)
        except Unschedulable as refused:
            return refused

    return compute


def walked(rule: str, due: datetime) -> Callable[[], object]:
    def wall(moment: datetime) -> datetime:
        return moment.astimezone(ZONE).replace(tzinfo=None)

    return lambda: rrulestr(rule, dtstart=wall(due)).after(wall(NOW))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=30, help="how long ago the task was due")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    due = NOW - timedelta(days=365 * args.years)
    print(f"next instance of a task due {args.years} years ago, completed now (median ms)")
    print(f"{'rule':<48} {'bounded':>9} {'walking (baseline)':>19}")
    slowest = 0.0
    for rule in RULES:
        ours = median_ms(bounded(rule, due), args.repeat)
        baseline = median_ms(walked(rule, due), args.repeat)
        slowest = max(slowest, ours)
        print(f"{rule:<48} {ours:9.2f} {baseline:19.2f}")
    for rule, worst_due in WORST:
        ours = median_ms(bounded(rule, worst_due), args.repeat)
        slowest = max(slowest, ours)
        label = f"{rule}, due {worst_due:%Y-%m-%d}"
        print(f"{label:<48} {ours:9.2f} {'(not run)':>19}")
    verdict = "met" if slowest < TARGET_MS else "missed"
    print(f"slowest next instance {slowest:.1f} ms (target < {TARGET_MS:.0f} ms): {verdict}")


if __name__ == "__main__":
    main()
