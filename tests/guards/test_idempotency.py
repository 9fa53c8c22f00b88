"""Idempotency keys on the memory store: one completed run per key."""

from __future__ import annotations

import brokerjobs
from brokerjobs.guards import keys
from brokerjobs.guards.records import Record
from brokerjobs.testing import FakeBroker
from tests.guards import jobs


def test_a_second_delivery_of_a_completed_key_is_acked_without_running(
    fake_broker: FakeBroker,
) -> None:
    jobs.runs.clear()
    brokerjobs.dispatch(jobs.Charge(order="o1", cents=100))
    brokerjobs.dispatch(jobs.Charge(order="o1", cents=100))
    result = fake_broker.drain()
    assert jobs.runs["charge-o1"] == 1
    assert (result.succeeded, result.skipped) == (2, 1)
    key = keys.idempotency_store_key(jobs.Charge.job_name, keys.idempotency_key(
        jobs.Charge(order="o1", cents=100), None) or "")  # fmt: skip
    stored = fake_broker.store.get_sync(key)
    assert stored is not None and Record.decode(stored).state == "done"


def test_a_key_reused_with_another_payload_is_dead_lettered(fake_broker: FakeBroker) -> None:
    jobs.runs.clear()
    brokerjobs.dispatch(jobs.Charge(order="o2", cents=100))
    brokerjobs.dispatch(jobs.Charge(order="o2", cents=999))
    result = fake_broker.drain()
    assert jobs.runs["charge-o2"] == 1
    assert result.dead_lettered == 1
    (dead,) = fake_broker.dead_letters("guards-idem")
    assert "different payload" in dead.reason and "o2" not in dead.reason.split("key")[0]


def test_an_explicit_key_at_dispatch_works_for_any_job(fake_broker: FakeBroker) -> None:
    jobs.runs.clear()
    brokerjobs.dispatch(jobs.Plain(n=1), idempotency_key="signup-42")
    brokerjobs.dispatch(jobs.Plain(n=1), idempotency_key="signup-42")
    brokerjobs.dispatch(jobs.Plain(n=1), idempotency_key="signup-43")
    fake_broker.drain()
    assert jobs.runs["plain-1"] == 2


def test_a_failed_run_frees_the_key_for_its_retry(fake_broker: FakeBroker) -> None:
    jobs.runs.clear()
    brokerjobs.dispatch(jobs.Flaky(order="o3"))
    result = fake_broker.drain()
    assert (jobs.runs["flaky-o3"], result.retried, result.succeeded) == (2, 1, 1)
    brokerjobs.dispatch(jobs.Flaky(order="o3"))
    assert fake_broker.drain().skipped == 1
    assert jobs.runs["flaky-o3"] == 2


def test_a_key_in_progress_defers_without_charging_an_attempt(fake_broker: FakeBroker) -> None:
    jobs.attempts_seen.clear()
    job = jobs.Audited(order="o4")
    key = keys.idempotency_store_key(jobs.Audited.job_name, keys.idempotency_key(job, None) or "")
    payload = keys.digest(job.model_dump(mode="json"))
    other_run = Record.running(payload, "another-message").encode()
    assert fake_broker.store.set_if_absent_sync(key, other_run, ttl=30)  # a crashed worker's

    brokerjobs.dispatch(job)
    first = fake_broker.drain(run_delayed=False)
    assert (first.deferred, jobs.attempts_seen) == (1, [])
    # The crashed run's claim expires (nobody renews it); the job then runs, attempt 1 of 1.
    result = fake_broker.drain()
    assert result.deferred >= 1 and result.succeeded == 1 and result.dead_lettered == 0
    assert jobs.attempts_seen == [1]
