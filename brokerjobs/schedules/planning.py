"""Which ticks to dispatch now, given the last tick handled: the misfire policy, in one place.

Pure functions of (schedule, cursor, now): the scheduler loop and the tests with a fake
clock use the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from brokerjobs.schedules.declarations import Schedule

MAX_TICKS_PER_PASS = 10_000
"""Most ticks one pass dispatches (``run_all`` after a long outage catches up over passes)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """The ticks to dispatch now, oldest first, and the cursor once they are dispatched."""

    dispatch: list[datetime]
    cursor: datetime
    """The last tick handled (dispatched, or dropped as misfired) after this plan."""
    misfired: int = 0
    """Ticks dropped by the misfire policy."""


def plan(schedule: Schedule, cursor: datetime, now: datetime) -> Plan:
    """The ticks after ``cursor`` that are due at ``now``, filtered by the misfire policy."""
    misfire = schedule.misfire
    on_time_from = now - timedelta(seconds=misfire.grace)
    horizon = now - timedelta(seconds=misfire.within)
    start = cursor
    if start < horizon:
        start = horizon  # older ticks are dropped by every policy: don't even walk them
    late: list[datetime] = []
    on_time: list[datetime] = []
    last_due = cursor
    tick = schedule.timing.after(start)
    while schedule.due(tick) <= now and len(on_time) + len(late) < MAX_TICKS_PER_PASS:
        (late if schedule.due(tick) < on_time_from else on_time).append(tick)
        last_due = tick
        tick = schedule.timing.after(tick)
    if misfire.policy == "skip":
        kept = []
    elif misfire.policy == "once":
        kept = late[-1:]
    else:
        kept = late
    dropped = len(late) - len(kept) + _walked_past(schedule, cursor, start)
    return Plan(kept + on_time, last_due, dropped)


def _walked_past(schedule: Schedule, cursor: datetime, start: datetime) -> int:
    """1 when ticks before ``start`` (beyond the horizon) were dropped, else 0.

    Counting them exactly could mean walking years of ticks; the log says "at least".
    """
    if start <= cursor:
        return 0
    return 1 if schedule.timing.after(cursor) <= start else 0
