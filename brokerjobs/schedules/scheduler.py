"""The scheduler loop: dispatch each due tick through the normal dispatch path, once.

Safe to run on every replica: a :class:`~brokerjobs.schedules.claiming.TickClaimer`
decides which scheduler dispatches a tick. Each tick is dispatched like any job (a
PRODUCER span, retries of broker errors with the same message id), with a message id
derived from the schedule and the tick, and its lateness (due → accepted by the broker)
recorded in the ``brokerjobs.schedule.tick.lateness`` histogram.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry import metrics

from brokerjobs import telemetry
from brokerjobs.backend import Backend
from brokerjobs.clock import Clock
from brokerjobs.dispatch import _with_retries_async, prepare
from brokerjobs.errors import BrokerJobsError, ScheduleError
from brokerjobs.schedules.claiming import TickClaimer
from brokerjobs.schedules.declarations import (
    SCHEDULE_HEADER,
    TICK_HEADER,
    Schedule,
    schedules,
    tick_text,
)
from brokerjobs.schedules.planning import plan

log = logging.getLogger("brokerjobs.schedules")
_meter = metrics.get_meter("brokerjobs")
_lateness = _meter.create_histogram(
    "brokerjobs.schedule.tick.lateness",
    unit="s",
    description="Seconds from a tick being due to its job being accepted by the broker.",
    explicit_bucket_boundaries_advisory=[0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
)
_ticks = _meter.create_counter(
    "brokerjobs.schedule.ticks",
    unit="{tick}",
    description="Ticks handled by this scheduler, by outcome (dispatched, taken, misfired).",
)


@dataclass(slots=True)
class ScheduleState:
    """What one scheduler knows about one schedule (``schedule list``, ``/healthz``)."""

    last_tick: datetime | None = None
    """The latest tick handled by this scheduler or, on resuming, by any."""
    last_dispatched_at: datetime | None = None
    """When this scheduler last had a tick's job accepted by the broker."""
    dispatched: int = 0
    misfired: int = 0


class Scheduler:
    """Dispatches the ticks of ``schedule_list`` (default: every declared schedule).

    ``await run()`` until :meth:`stop`; :meth:`run_once` is one pass (tests drive it with
    a :class:`~brokerjobs.clock.FakeClock`). ``max_idle`` bounds every sleep: it is also
    how soon a scheduler without the lease notices that it may take it.
    """

    def __init__(
        self,
        backend: Backend,
        schedule_list: Sequence[Schedule] | None = None,
        *,
        claimer: TickClaimer | None = None,
        clock: Clock | None = None,
        max_idle: float = 0.5,
        group: str = "default",
    ) -> None:
        self.backend = backend
        self.schedules = list(schedule_list if schedule_list is not None else schedules.all())
        if not self.schedules:
            raise ScheduleError("no schedules are declared (is the module with them imported?)")
        if claimer is None:
            from brokerjobs.schedules.choose import claimer_for

            claimer = claimer_for(backend, self.schedules, group=group)
        self.claimer = claimer
        self.clock = clock or Clock()
        self.max_idle = max_idle
        self.state = {s.name: ScheduleState() for s in self.schedules}
        self.leading = False
        self.last_pass = time.monotonic()
        """Monotonic time of the last completed pass: ``/healthz`` fails when it is old."""
        self.last_error: str | None = None
        self._cursors: dict[str, datetime] = {}
        self._term: int | None = None
        self._stopping = asyncio.Event()
        self._wake: asyncio.Event | None = None

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def run_once(self) -> int:
        """Dispatch every tick due now; returns how many this scheduler dispatched."""
        term = await self.claimer.leadership()
        if term != self._term:
            self._cursors.clear()  # lost or regained a lease: what we knew may be stale
            self._term = term
            if term is None:
                log.info("scheduler: not leading; another scheduler dispatches the ticks")
            elif term:
                log.info("scheduler: leading (term %d)", term)
        self.leading = term is not None
        if term is None:
            return 0
        now = self.now()
        sent = 0
        failure: Exception | None = None
        for declared in self.schedules:
            # One schedule's failure (a broker error, a job factory that raises) must not
            # hold the others up; the first one is raised once all had their turn.
            try:
                sent += await self._run_schedule(declared, now)
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
        return sent

    async def _run_schedule(self, declared: Schedule, now: datetime) -> int:
        state = self.state[declared.name]
        cursor = self._cursors.get(declared.name)
        if cursor is None:
            resumed = await self.claimer.resume_point(declared, now)
            cursor = resumed or now
            if resumed is not None and (state.last_tick is None or resumed > state.last_tick):
                state.last_tick = resumed
            self._cursors[declared.name] = cursor
        due = plan(declared, cursor, now)
        if due.misfired:
            state.misfired += due.misfired
            _ticks.add(due.misfired, {"schedule": declared.name, "outcome": "misfired"})
            log.warning(
                "schedule %s: %s%d missed tick(s) not dispatched (misfire policy %r)",
                declared.name,
                "at least " if due.cursor > cursor and due.misfired == 1 else "",
                due.misfired,
                declared.misfire.policy,
            )
        sent = 0
        for tick in due.dispatch:
            if await self._dispatch(declared, tick):
                sent += 1
            self._cursors[declared.name] = tick
            state.last_tick = tick
        self._cursors[declared.name] = due.cursor
        return sent

    async def _dispatch(self, declared: Schedule, tick: datetime) -> bool:
        """Dispatch one tick the normal way; whether this scheduler was the one."""
        backend = self.backend
        accepted = False
        with telemetry.producer_span() as span:
            item = prepare(
                declared.make_job(tick),
                backend,
                queue=declared.queue,
                message_id=declared.message_id(tick),
                headers={SCHEDULE_HEADER: declared.name, TICK_HEADER: tick_text(tick)},
            )
            telemetry.describe_send(span, [item.envelope], item.message.body, backend=backend.name)

            async def publish() -> None:
                nonlocal accepted
                accepted = await self.claimer.publish(declared, tick, item.queue, item.message)

            await _with_retries_async(publish)
        attributes = {"schedule": declared.name, "outcome": "dispatched" if accepted else "taken"}
        _ticks.add(1, attributes)
        if accepted:
            lateness = (self.now() - declared.due(tick)).total_seconds()
            _lateness.record(max(0.0, lateness), {"schedule": declared.name})
            state = self.state[declared.name]
            state.dispatched += 1
            state.last_dispatched_at = self.now()
            log.debug("schedule %s: dispatched %s", declared.name, item.envelope.id)
        return accepted

    def seconds_to_next(self) -> float:
        """Seconds until the next tick is due (bounded by ``max_idle``)."""
        if not self.leading:
            return self.max_idle  # another scheduler leads: try the lease again later
        now = self.now()
        wait = self.max_idle
        for declared in self.schedules:
            cursor = self._cursors.get(declared.name)
            if cursor is None:
                return 0.0
            upcoming = declared.due(declared.timing.after(cursor))
            wait = min(wait, (upcoming - now).total_seconds())
        return max(0.0, wait)

    async def run(self) -> None:
        """Dispatch ticks until :meth:`stop`; broker errors are logged and retried."""
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()

        def poke() -> None:  # a fake clock moved: due ticks may have changed
            loop.call_soon_threadsafe(self._poke)

        self.clock.subscribe(poke)
        failures = 0
        try:
            while not self._stopping.is_set():
                try:
                    await self.run_once()
                    self.last_error, failures = None, 0
                    wait = self.seconds_to_next()
                except Exception as exc:  # a broker error, or a bug in a job factory
                    failures += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning(
                        "scheduler pass failed (%s); retrying",
                        self.last_error,
                        exc_info=not isinstance(exc, BrokerJobsError),
                    )
                    wait = min(5.0, 0.1 * 2**failures)
                self.last_pass = time.monotonic()
                await self._sleep(wait)
        finally:
            await self.claimer.aclose()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        wake = self._wake
        assert wake is not None
        wake.clear()
        stop = asyncio.ensure_future(self._stopping.wait())
        woken = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({stop, woken}, timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            for task in (stop, woken):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def stop(self) -> None:
        """Make :meth:`run` return after the current pass. Idempotent."""
        self._stopping.set()
