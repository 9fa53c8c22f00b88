"""When a schedule's ticks fall: cron expressions (parsed by cronsim) or fixed intervals.

Every tick is an aware UTC ``datetime``; all replicas compute the same ticks from the same
declaration, which is what lets them agree on a tick's identity.

Cron expressions are read in the schedule's IANA time zone. Daylight-saving time follows
Debian cron, as cronsim implements it, for expressions with a fixed minute and hour
(``30 2 * * *``):

* spring forward: a time inside the skipped hour runs once, at the first minute after
  the gap (03:00), or not at all with ``dst_gap="skip"``;
* fall back: a time inside the repeated hour runs once, at its first occurrence.

Expressions with a wildcard minute or hour (``*/15 * * * *``) follow elapsed time: the
repeated hour is run through twice, the skipped hour not at all. Whatever the expression,
ticks are strictly increasing in UTC, so no instant is ever dispatched twice.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from brokerjobs.errors import ScheduleError

DstGap = Literal["run", "skip"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Timing(Protocol):
    """The tick sequence of a schedule."""

    def after(self, moment: datetime) -> datetime:
        """The first tick strictly after ``moment`` (aware), as an aware UTC datetime."""
        ...

    def describe(self) -> str:
        """A short human description (``cron 0 2 * * * Europe/Berlin``, ``every 60 s``)."""
        ...


class CronTiming:
    """Ticks of a 5-field (or 6-field, seconds first) cron expression in a time zone."""

    def __init__(self, expression: str, zone: ZoneInfo, dst_gap: DstGap = "run") -> None:
        self.expression = " ".join(expression.split())
        self.zone = zone
        self.dst_gap = dst_gap
        try:
            self._matcher = CronSim(self.expression, datetime(2000, 1, 1, tzinfo=zone))
        except CronSimError as exc:
            raise ScheduleError(f"invalid cron expression {expression!r}: {exc}") from None

    def after(self, moment: datetime) -> datetime:
        floor = moment.astimezone(UTC)
        # cronsim computes on wall-clock time: from inside a repeated hour (fold=1) it may
        # answer an instant that is already past in UTC. Those are skipped here.
        candidates = CronSim(self.expression, moment.astimezone(self.zone))
        for _ in range(100_000):
            candidate = next(candidates)
            if self.dst_gap == "skip" and self._moved_by_gap(candidate):
                continue
            tick = candidate.astimezone(UTC)
            if tick > floor:
                return tick
        raise ScheduleError(f"cron expression {self.expression!r} has no tick after {moment}")

    def _moved_by_gap(self, candidate: datetime) -> bool:
        """Whether cronsim moved this time out of a spring-forward gap (or it is imaginary)."""
        if candidate != candidate.astimezone(UTC).astimezone(self.zone):
            return True  # a wall time that does not exist
        matcher = self._matcher
        return candidate.hour not in matcher.hours or candidate.minute not in matcher.minutes

    def describe(self) -> str:
        return f"cron {self.expression} {self.zone.key}"


class IntervalTiming:
    """Ticks every ``seconds``, counted from ``anchor`` (default: the Unix epoch, UTC).

    Intervals are elapsed time: time zones and DST do not move them.
    """

    def __init__(self, every: float | timedelta, anchor: datetime | None = None) -> None:
        seconds = every.total_seconds() if isinstance(every, timedelta) else float(every)
        if not (math.isfinite(seconds) and seconds >= 0.001):
            raise ScheduleError(f"every= must be at least 1 ms, got {every!r}")
        if anchor is not None and anchor.tzinfo is None:
            raise ScheduleError("anchor= must be timezone-aware")
        self.step = round(seconds * 1_000_000)
        """Microseconds between ticks (integers: no drift over years of ticks)."""
        self.anchor = (anchor or EPOCH).astimezone(UTC)

    def after(self, moment: datetime) -> datetime:
        elapsed = _microseconds(moment.astimezone(UTC) - self.anchor)
        count = elapsed // self.step + 1
        return self.anchor + timedelta(microseconds=count * self.step)

    def describe(self) -> str:
        seconds = self.step / 1_000_000
        return f"every {seconds:g} s"


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
