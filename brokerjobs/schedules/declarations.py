"""Declaring schedules next to the jobs they dispatch.

::

    from brokerjobs.schedules import Misfire, schedule

    schedule("nightly-report", NightlyReport(), cron="0 2 * * *", timezone="Europe/Berlin")
    schedule("heartbeat", Ping(), every=30, misfire=Misfire.skip())

A schedule's *name* is its identity across replicas and deploys: the message id of every
dispatched job is derived from it and the tick (``nightly-report@2026-12-04T01:00:00Z``),
so logs and the dead-letter queue tell which tick a job belongs to. Renaming a schedule
makes a new one.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from brokerjobs.errors import ScheduleError
from brokerjobs.job import Job
from brokerjobs.schedules.timing import CronTiming, DstGap, IntervalTiming, Timing

SCHEDULE_HEADER = "brokerjobs-schedule"
"""Envelope header naming the schedule that dispatched the job."""
TICK_HEADER = "brokerjobs-tick"
"""Envelope header with the tick (RFC 3339, UTC) the job was dispatched for."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")
MisfirePolicy = Literal["once", "all", "skip"]
JobFactory = Callable[[datetime], Job]


@dataclass(frozen=True, slots=True)
class Misfire:
    """What to do with ticks missed while no scheduler ran.

    A tick dispatched at most ``grace`` seconds after it was due is on time (a failover,
    a slow broker). Older ones are *misfired*: ``once`` dispatches only the latest of
    them, ``all`` each of them, ``skip`` none. Misfired ticks older than ``within``
    seconds are dropped by every policy.
    """

    policy: MisfirePolicy = "once"
    grace: float = 60.0
    within: float = 86_400.0

    def __post_init__(self) -> None:
        if self.policy not in ("once", "all", "skip"):
            raise ScheduleError(f"misfire policy must be once, all or skip, not {self.policy!r}")
        if not (0 <= self.grace <= self.within):
            raise ScheduleError("misfire grace must be >= 0 and at most `within`")

    @classmethod
    def run_once(cls, *, grace: float = 60.0, within: float = 86_400.0) -> Misfire:
        """Dispatch the latest missed tick only (the default)."""
        return cls("once", grace, within)

    @classmethod
    def run_all(cls, *, within: float, grace: float = 60.0) -> Misfire:
        """Dispatch every tick missed in the last ``within`` seconds, oldest first."""
        return cls("all", grace, within)

    @classmethod
    def skip(cls, *, grace: float = 60.0) -> Misfire:
        """Dispatch no missed tick; carry on with the next one."""
        return cls("skip", grace, max(grace, 86_400.0))


@dataclass(frozen=True, eq=False)
class Schedule:
    """A recurring job: when (``cron`` or ``every``) and what (a job, or a factory of one).

    ``job`` is a :class:`~brokerjobs.Job` instance dispatched as is at every tick, or a
    callable taking the tick (aware, in the schedule's time zone) and returning the job.
    ``jitter`` delays each tick's dispatch by up to that many seconds, by an amount all
    replicas agree on (derived from the name and the tick). ``queue`` overrides the
    job's queue.
    """

    name: str
    job: Job | JobFactory
    cron: str | None = None
    every: float | timedelta | None = None
    timezone: str = "UTC"
    jitter: float = 0.0
    misfire: Misfire = field(default_factory=Misfire)
    dst_gap: DstGap = "run"
    queue: str | None = None
    timing: Timing = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ScheduleError(
                f"schedule name {self.name!r} must be 1-80 characters of letters, digits "
                "and _ . : - (it is part of every tick's message id)"
            )
        if (self.cron is None) == (self.every is None):
            raise ScheduleError(f"schedule {self.name!r}: give exactly one of cron= or every=")
        if not (0 <= self.jitter < 86_400):
            raise ScheduleError(f"schedule {self.name!r}: jitter must be in [0, 86400) seconds")
        if self.dst_gap not in ("run", "skip"):
            raise ScheduleError(f"schedule {self.name!r}: dst_gap must be 'run' or 'skip'")
        if not isinstance(self.job, Job) and not callable(self.job):
            raise ScheduleError(f"schedule {self.name!r}: job must be a Job or a callable")
        timing: Timing
        if self.cron is not None:
            timing = CronTiming(self.cron, self.zone, self.dst_gap)
        else:
            assert self.every is not None
            timing = IntervalTiming(self.every)
        object.__setattr__(self, "timing", timing)

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's time zone."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(
                f"schedule {self.name!r}: unknown time zone {self.timezone!r} "
                "(an IANA name such as Europe/Berlin; install tzdata where the OS has none)"
            ) from None

    def next_ticks(self, after: datetime, count: int = 5) -> list[datetime]:
        """The next ``count`` ticks strictly after ``after``, in UTC."""
        ticks: list[datetime] = []
        moment = after
        for _ in range(count):
            moment = self.timing.after(moment)
            ticks.append(moment)
        return ticks

    def due(self, tick: datetime) -> datetime:
        """When ``tick`` is dispatched: the tick plus its jitter."""
        if not self.jitter:
            return tick
        digest = hashlib.sha256(f"{self.name}|{tick_text(tick)}".encode()).digest()
        fraction = int.from_bytes(digest[:8]) / 2**64
        return tick + timedelta(seconds=self.jitter * fraction)

    def message_id(self, tick: datetime) -> str:
        """The message id of the job dispatched for ``tick``: ``name@tick``."""
        return f"{self.name}@{tick_text(tick)}"

    def make_job(self, tick: datetime) -> Job:
        """The job to dispatch for ``tick``."""
        if isinstance(self.job, Job):
            return self.job
        job = self.job(tick.astimezone(self.zone))
        if not isinstance(job, Job):
            raise ScheduleError(
                f"schedule {self.name!r}: the job factory returned {type(job).__name__}, not a Job"
            )
        return job

    def describe(self) -> str:
        return self.timing.describe()

    def _signature(self) -> tuple[object, ...]:
        job = type(self.job) if isinstance(self.job, Job) else self.job
        return (self.cron, self.every, self.timezone, getattr(job, "__qualname__", job))


def tick_text(tick: datetime) -> str:
    """A tick as RFC 3339 in UTC, to the second (to the microsecond when it has them)."""
    tick = tick.astimezone(UTC)
    if tick.microsecond:
        return tick.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return tick.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_tick(text: str) -> datetime:
    """The inverse of :func:`tick_text`."""
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.strptime(text, pattern).replace(tzinfo=UTC)


def tick_of(message_id: str, schedule_name: str) -> datetime | None:
    """The tick a message id of ``schedule_name`` was dispatched for, or None."""
    name, separator, text = message_id.rpartition("@")
    if not separator or name != schedule_name:
        return None
    try:
        return parse_tick(text)
    except ValueError:
        return None


class ScheduleRegistry:
    """Every schedule declared in this process, by name (``brokerjobs schedule list``)."""

    def __init__(self) -> None:
        self._schedules: dict[str, Schedule] = {}
        self._lock = threading.Lock()

    def add(self, declared: Schedule) -> Schedule:
        """Register ``declared``; another schedule under its name is an error.

        Declaring the same schedule again (a module imported twice) replaces it.
        """
        with self._lock:
            existing = self._schedules.get(declared.name)
            if existing is not None and existing._signature() != declared._signature():
                raise ScheduleError(
                    f"schedule name {declared.name!r} is already declared "
                    f"({existing.describe()}); names identify ticks, give this one another"
                )
            self._schedules[declared.name] = declared
            return declared

    def remove(self, name: str) -> None:
        with self._lock:
            self._schedules.pop(name, None)

    def get(self, name: str) -> Schedule:
        try:
            return self._schedules[name]
        except KeyError:
            raise ScheduleError(f"no schedule is declared under the name {name!r}") from None

    def all(self) -> list[Schedule]:
        """Every schedule, sorted by name."""
        with self._lock:
            return [self._schedules[name] for name in sorted(self._schedules)]


schedules = ScheduleRegistry()
"""The process-wide registry :func:`schedule` adds to."""


def schedule(
    name: str,
    job: Job | JobFactory,
    *,
    cron: str | None = None,
    every: float | timedelta | None = None,
    timezone: str = "UTC",
    jitter: float = 0.0,
    misfire: Misfire | None = None,
    dst_gap: DstGap = "run",
    queue: str | None = None,
) -> Schedule:
    """Declare a :class:`Schedule` and register it (see the module docstring)."""
    return schedules.add(
        Schedule(
            name,
            job,
            cron=cron,
            every=every,
            timezone=timezone,
            jitter=jitter,
            misfire=misfire or Misfire(),
            dst_gap=dst_gap,
            queue=queue,
        )
    )
