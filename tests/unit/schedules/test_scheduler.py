"""The scheduler loop with a fake clock: DST nights, misfires, and claiming between replicas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from brokerjobs import Job, JobContext
from brokerjobs.clock import FakeClock
from brokerjobs.envelope import Envelope, decode
from brokerjobs.memory import MemoryBackend
from brokerjobs.memory_store import MemoryStore
from brokerjobs.schedules import (
    SCHEDULE_HEADER,
    TICK_HEADER,
    InProcessClaimer,
    Misfire,
    Schedule,
    Scheduler,
    StoreClaimer,
)
from tests.unit.schedules.standin_store import StandInStore

QUEUE = "scheduled"


class Nightly(Job, name="tests.schedules.Nightly", queue=QUEUE):
    def run(self, ctx: JobContext) -> None:
        return None


def at(text: str) -> FakeClock:
    return FakeClock(datetime.fromisoformat(text).timestamp())


async def dispatched(backend: MemoryBackend) -> list[Envelope]:
    """Every message in the queue, in order (consumed and acked)."""
    subscription = await backend.consume([QUEUE], prefetch=100)
    envelopes = []
    while True:
        try:
            delivery = await asyncio.wait_for(subscription.__anext__(), 0.05)
        except TimeoutError:
            break
        envelopes.append(decode(delivery.body, max_size=1 << 20))
        await backend.ack(delivery)
    await subscription.stop()
    return envelopes


async def walk(scheduler: Scheduler, clock: FakeClock, hours: float, step: float = 60) -> None:
    """Advance the fake clock by ``step`` seconds at a time, one pass after each."""
    for _ in range(int(hours * 3600 / step)):
        clock.advance(step)
        await scheduler.run_once()


def new_backend() -> MemoryBackend:
    return MemoryBackend(MemoryStore())


async def test_each_tick_is_dispatched_once_with_an_id_and_headers_naming_it() -> None:
    backend, clock = new_backend(), at("2026-06-01T12:00:00+00:00")
    every_minute = Schedule("minutely", Nightly(), every=60)
    scheduler = Scheduler(backend, [every_minute], claimer=InProcessClaimer(backend), clock=clock)
    await scheduler.run_once()  # the first pass starts from now: nothing is due yet
    await walk(scheduler, clock, hours=0.05, step=20)  # 3 minutes in 20 s steps
    envelopes = await dispatched(backend)
    assert [e.id for e in envelopes] == [
        "minutely@2026-06-01T12:01:00Z",
        "minutely@2026-06-01T12:02:00Z",
        "minutely@2026-06-01T12:03:00Z",
    ]
    assert envelopes[0].headers[SCHEDULE_HEADER] == "minutely"
    assert envelopes[0].headers[TICK_HEADER] == "2026-06-01T12:01:00Z"
    assert scheduler.state["minutely"].dispatched == 3


@pytest.mark.parametrize(("gap", "expected"), [("run", ["03:00:00+02:00"]), ("skip", [])])
async def test_spring_forward_night_runs_the_0230_job_once_or_not_at_all(
    gap: str, expected: list[str]
) -> None:
    backend, clock = new_backend(), at("2026-03-28T23:00:00+00:00")
    nightly = Schedule(
        "nightly", Nightly(), cron="30 2 * * *", timezone="Europe/Berlin", dst_gap=gap
    )  # type: ignore[arg-type]
    scheduler = Scheduler(backend, [nightly], claimer=InProcessClaimer(backend), clock=clock)
    await scheduler.run_once()
    await walk(scheduler, clock, hours=6)
    ticks = [datetime.fromisoformat(e.headers[TICK_HEADER]) for e in await dispatched(backend)]
    assert [t.astimezone(nightly.zone).isoformat()[11:] for t in ticks] == expected


async def test_fall_back_night_runs_the_0230_job_once() -> None:
    backend, clock = new_backend(), at("2026-10-24T23:00:00+00:00")
    nightly = Schedule("nightly", Nightly(), cron="30 2 * * *", timezone="Europe/Berlin")
    scheduler = Scheduler(backend, [nightly], claimer=InProcessClaimer(backend), clock=clock)
    await scheduler.run_once()
    await walk(scheduler, clock, hours=6)
    envelopes = await dispatched(backend)
    assert [e.headers[TICK_HEADER] for e in envelopes] == ["2026-10-25T00:30:00Z"]


@pytest.mark.parametrize(
    ("misfire", "expected"),
    [
        (Misfire.run_once(grace=30), ["10:00"]),
        (Misfire.run_all(within=86_400, grace=30), ["07:00", "08:00", "09:00", "10:00"]),
        (Misfire.run_all(within=2.5 * 3600, grace=30), ["08:00", "09:00", "10:00"]),
        (Misfire.skip(grace=30), []),
    ],
)
async def test_ticks_missed_while_no_scheduler_ran_follow_the_misfire_policy(
    misfire: Misfire, expected: list[str]
) -> None:
    backend = new_backend()
    hourly = Schedule("hourly", Nightly(), cron="0 * * * *", misfire=misfire)
    claimer = InProcessClaimer(backend)
    clock = at("2026-06-01T06:30:00+00:00")
    first = Scheduler(backend, [hourly], claimer=claimer, clock=clock)
    await first.run_once()
    await walk(first, clock, hours=0.5)  # 07:00 dispatched... and then no scheduler runs
    await dispatched(backend)
    clock.advance(3 * 3600 + 5 * 60)  # 10:05: 08:00, 09:00 missed; 10:00 missed too (> grace)
    second = Scheduler(backend, [hourly], claimer=claimer, clock=clock)
    await second.run_once()
    ticks = [e.headers[TICK_HEADER][11:16] for e in await dispatched(backend)]
    assert ticks == [t for t in expected if t != "07:00"]
    assert second.state["hourly"].misfired == 3 - len(ticks)


async def test_a_tick_late_by_less_than_the_grace_is_on_time_whatever_the_policy() -> None:
    backend = new_backend()
    often = Schedule("often", Nightly(), cron="*/10 * * * *", misfire=Misfire.skip(grace=60))
    claimer, clock = InProcessClaimer(backend), at("2026-06-01T06:49:00+00:00")
    first = Scheduler(backend, [often], claimer=claimer, clock=clock)
    await first.run_once()
    clock.advance(60)
    await first.run_once()  # 06:50 dispatched; then this scheduler dies
    clock.advance(10 * 60 + 40)  # 07:00:40: the failover took 40 s
    await Scheduler(backend, [often], claimer=claimer, clock=clock).run_once()
    assert [e.headers[TICK_HEADER][11:16] for e in await dispatched(backend)] == [
        "06:50",
        "07:00",
    ]


async def test_two_schedulers_on_one_store_dispatch_each_tick_once() -> None:
    backend, clock = new_backend(), at("2026-06-01T12:00:00+00:00")
    store = StandInStore(clock.now)
    every_10s = Schedule("ten", Nightly(), every=10)
    replicas = [
        Scheduler(backend, [every_10s], claimer=StoreClaimer(store, backend), clock=clock)
        for _ in range(2)
    ]
    for replica in replicas:
        await replica.run_once()
    for _ in range(30):
        clock.advance(5)
        await asyncio.gather(*(replica.run_once() for replica in replicas))
    ids = [e.id for e in await dispatched(backend)]
    assert len(ids) == 15 == len(set(ids))
    assert sum(r.state["ten"].dispatched for r in replicas) == 15


async def test_a_store_claim_whose_owner_died_before_publishing_is_taken_over() -> None:
    backend, clock = new_backend(), at("2026-06-01T12:00:00+00:00")
    store = StandInStore(clock.now)
    every_10s = Schedule("ten", Nightly(), every=10)
    tick = datetime(2026, 6, 1, 12, 0, 10, tzinfo=UTC)
    dead = StoreClaimer(store, backend, lease=5)
    # The dead scheduler claimed 12:00:10 and was killed before it published.
    assert await store.set_if_absent(dead._tick_key(every_10s, tick), b"pending:dead", ttl=5)
    survivor = Scheduler(
        backend, [every_10s], claimer=StoreClaimer(store, backend, poll=0.01), clock=clock
    )
    await survivor.run_once()
    clock.advance(10)
    expiry = asyncio.get_running_loop().call_later(0.1, clock.advance, 5)  # the lease lapses
    await survivor.run_once()
    expiry.cancel()
    assert [e.id for e in await dispatched(backend)] == ["ten@2026-06-01T12:00:10Z"]
    assert await store.get(dead._tick_key(every_10s, tick)) == b"done"


async def test_a_restarted_store_scheduler_resumes_after_the_last_tick_of_any_replica() -> None:
    backend, clock = new_backend(), at("2026-06-01T12:00:00+00:00")
    store = StandInStore(clock.now)
    every_10s = Schedule("ten", Nightly(), every=10, misfire=Misfire.run_all(within=3600))
    first = Scheduler(backend, [every_10s], claimer=StoreClaimer(store, backend), clock=clock)
    await first.run_once()
    clock.advance(20)
    await first.run_once()  # 12:00:10 and 12:00:20
    clock.advance(120)  # nobody runs for two minutes (past the 60 s grace)
    second = Scheduler(backend, [every_10s], claimer=StoreClaimer(store, backend), clock=clock)
    await second.run_once()
    ids = [e.id[-9:-1] for e in await dispatched(backend)]
    assert ids == [f"12:0{m}:{s}0" for m in (0, 1, 2) for s in range(6)][1:15]


async def test_run_stops_on_stop_and_wakes_when_a_fake_clock_moves() -> None:
    backend, clock = new_backend(), at("2026-06-01T12:00:00+00:00")
    every_minute = Schedule("minutely", Nightly(), every=60)
    scheduler = Scheduler(
        backend, [every_minute], claimer=InProcessClaimer(backend), clock=clock, max_idle=30
    )
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.05)
    clock.advance(61)
    async with asyncio.timeout(10):
        while scheduler.state["minutely"].dispatched == 0:  # noqa: ASYNC110 (a poll)
            await asyncio.sleep(0.01)
    scheduler.stop()
    async with asyncio.timeout(10):
        await task


async def test_a_failing_job_factory_does_not_hold_up_the_other_schedules() -> None:
    backend, clock = new_backend(), at("2026-06-01T12:00:00+00:00")

    def broken(tick: datetime) -> Job:
        raise ValueError("no data for this tick")

    schedules = [
        Schedule("a-broken", broken, every=60, queue=QUEUE),
        Schedule("b-fine", Nightly(), every=60),
    ]
    scheduler = Scheduler(backend, schedules, claimer=InProcessClaimer(backend), clock=clock)
    await scheduler.run_once()
    clock.advance(60)
    with pytest.raises(ValueError, match="no data"):
        await scheduler.run_once()
    assert [e.id for e in await dispatched(backend)] == ["b-fine@2026-06-01T12:01:00Z"]
    clock.advance(60)  # the broken tick is tried again; the fine schedule goes on
    with pytest.raises(ValueError):
        await scheduler.run_once()
    assert [e.id for e in await dispatched(backend)] == ["b-fine@2026-06-01T12:02:00Z"]


class NeverLeads(InProcessClaimer):
    """A claimer whose lease is always held by someone else; counts the tries."""

    tries = 0

    async def leadership(self) -> int | None:
        self.tries += 1
        return None


async def test_a_scheduler_without_the_lease_tries_again_every_max_idle_not_in_a_loop() -> None:
    backend = new_backend()
    claimer = NeverLeads(backend)
    scheduler = Scheduler(
        backend, [Schedule("idle", Nightly(), every=1)], claimer=claimer, max_idle=0.1
    )
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.5)
    scheduler.stop()
    await task
    assert 2 <= claimer.tries <= 10  # about five; a busy loop makes thousands
