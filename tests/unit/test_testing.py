"""brokerjobs.testing: the fake broker fixture, dispatched() and drain()."""

from __future__ import annotations

from datetime import timedelta

import pytest

import brokerjobs
from brokerjobs import Job, JobContext, dispatch, dispatch_async, testing
from brokerjobs.testing import FakeBroker

SEEN: list[tuple[str, int]] = []


class Greet(Job, name="bjtesting.greet"):
    who: str

    def run(self, ctx: JobContext) -> None:
        SEEN.append((self.who, ctx.attempt))


class Chain(Job, name="bjtesting.chain", queue="other"):
    who: str

    async def run(self, ctx: JobContext) -> None:
        await dispatch_async(Greet(who=f"from {self.who}"))


class Flaky(Job, name="bjtesting.flaky", max_attempts=3, backoff_base=60.0):
    who: str

    def run(self, ctx: JobContext) -> None:
        SEEN.append((self.who, ctx.attempt))
        if ctx.attempt < 3:
            raise ConnectionError("try again")


class Broken(Job, name="bjtesting.broken", max_attempts=2):
    def run(self, ctx: JobContext) -> None:
        raise ValueError("always")


@pytest.fixture(autouse=True)
def _clear() -> None:
    SEEN.clear()


def test_dispatch_by_any_backend_name_goes_to_the_fake(fake_broker: FakeBroker) -> None:
    dispatch(Greet(who="ada"))
    dispatch(Greet(who="bob"), backend="rabbitmq")
    assert fake_broker.dispatched(Greet) == [Greet(who="ada"), Greet(who="bob")]
    assert testing.dispatched() == [Greet(who="ada"), Greet(who="bob")]
    assert fake_broker.dispatched(Chain) == []
    assert SEEN == []


def test_drain_runs_jobs_including_ones_they_dispatch(fake_broker: FakeBroker) -> None:
    dispatch(Chain(who="ada"))
    result = fake_broker.drain()
    assert result.succeeded == 2
    assert SEEN == [("from ada", 1)]


def test_drain_jumps_the_fake_clock_over_delays_and_backoffs(fake_broker: FakeBroker) -> None:
    dispatch(Greet(who="later"), delay=timedelta(days=2))
    dispatch(Flaky(who="flaky"))
    assert fake_broker.drain(run_delayed=False).retried == 1
    assert SEEN == [("flaky", 1)]
    result = fake_broker.drain()
    assert result.retried == 1 and result.succeeded == 2
    assert sorted(SEEN) == [("flaky", 1), ("flaky", 2), ("flaky", 3), ("later", 1)]


def test_drain_reports_dead_letters_and_errors(fake_broker: FakeBroker) -> None:
    dispatch(Broken())
    result = testing.drain()
    assert result.dead_lettered == 1
    assert [type(e) for e in result.errors] == [ValueError, ValueError]
    [dead] = fake_broker.dead_letters()
    assert "attempts exhausted (2/2)" in dead.reason


async def test_drain_async_from_async_tests(fake_broker: FakeBroker) -> None:
    await dispatch_async(Greet(who="async"))
    with pytest.raises(RuntimeError, match="drain_async"):
        fake_broker.drain()
    result = await testing.drain_async()
    assert result.succeeded == 1 and SEEN == [("async", 1)]


def test_the_override_ends_with_the_context() -> None:
    with testing.fake_broker() as broker:
        assert brokerjobs.get_backend("sqs") is broker.backend
    with pytest.raises(RuntimeError, match="no fake broker"):
        testing.dispatched()
    assert brokerjobs.get_backend("memory") is not broker.backend
