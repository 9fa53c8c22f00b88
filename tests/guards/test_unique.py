"""Unique jobs on the memory store: a duplicate dispatch returns the queued job's id."""

from __future__ import annotations

import pytest

import brokerjobs
from brokerjobs.errors import DispatchError, StoreNotConfiguredError
from brokerjobs.guards import DispatchResult
from brokerjobs.testing import FakeBroker
from tests.guards import jobs


def test_a_duplicate_dispatch_returns_the_first_id_and_says_so(fake_broker: FakeBroker) -> None:
    first = brokerjobs.dispatch(jobs.Report(account=1))
    second = brokerjobs.dispatch(jobs.Report(account=1, note="other note, same account"))
    other = brokerjobs.dispatch(jobs.Report(account=2))
    assert isinstance(first, DispatchResult) and isinstance(first, str)
    assert (first.duplicate, second.duplicate, other.duplicate) == (False, True, False)
    assert second == first and second.message_id == first.message_id
    assert [sent.message_id for sent in fake_broker.sent] == [first, other]


async def test_async_dispatch_tells_duplicates_too(fake_broker: FakeBroker) -> None:
    first = await brokerjobs.dispatch_async(jobs.Report(account=3))
    second = await brokerjobs.dispatch_async(jobs.Report(account=3))
    assert second.duplicate and second == first
    assert len(fake_broker.sent) == 1


def test_the_lock_is_released_when_the_job_finishes(fake_broker: FakeBroker) -> None:
    brokerjobs.dispatch(jobs.Report(account=4))
    assert fake_broker.drain().succeeded == 1
    again = brokerjobs.dispatch(jobs.Report(account=4))
    assert not again.duplicate
    assert len(fake_broker.sent) == 2


def test_until_finished_holds_the_lock_while_running_until_started_does_not(
    fake_broker: FakeBroker,
) -> None:
    jobs.redispatched.clear()
    brokerjobs.dispatch(jobs.LockedWhileRunning(account=5))
    brokerjobs.dispatch(jobs.FreedAtStart(account=5))
    fake_broker.drain()
    assert jobs.redispatched == [True, False]


def test_an_expired_lock_lets_the_same_job_be_queued_again(fake_broker: FakeBroker) -> None:
    brokerjobs.dispatch(jobs.Report(account=6))
    fake_broker.clock.advance(61)  # unique_for=60, the job never ran (a dead worker)
    assert not brokerjobs.dispatch(jobs.Report(account=6)).duplicate
    assert len(fake_broker.sent) == 2


def test_dispatch_many_refuses_unique_jobs(fake_broker: FakeBroker) -> None:
    with pytest.raises(DispatchError, match="dispatch it with dispatch"):
        brokerjobs.dispatch_many([jobs.Report(account=7)])


def test_without_a_store_a_unique_job_fails_at_dispatch() -> None:
    from brokerjobs_rabbitmq import RabbitMQBackend

    backend = RabbitMQBackend(url="amqp://guest:guest@127.0.0.1:1/")  # never contacted
    with pytest.raises(StoreNotConfiguredError, match=r"Report \(unique_for\).*BROKERJOBS_STORE"):
        brokerjobs.dispatch(jobs.Report(account=8), backend=backend)


async def test_without_a_store_a_worker_with_guarded_jobs_fails_at_start() -> None:
    from brokerjobs_rabbitmq import RabbitMQBackend

    backend = RabbitMQBackend(url="amqp://guest:guest@127.0.0.1:1/")
    worker = brokerjobs.Worker(backend, ["guards-limits"])
    with pytest.raises(StoreNotConfiguredError, match="needs a coordination store"):
        await worker.run()
