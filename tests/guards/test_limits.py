"""Rate and concurrency limits on the memory store: deferred, never charged an attempt."""

from __future__ import annotations

import brokerjobs
from brokerjobs.guards import keys
from brokerjobs.testing import FakeBroker
from tests.guards import jobs


def test_a_rate_limited_job_waits_for_the_next_window(fake_broker: FakeBroker) -> None:
    jobs.runs.clear()
    for n in range(5):
        brokerjobs.dispatch(jobs.Throttled(n=n))
    first = fake_broker.drain(run_delayed=False)
    assert jobs.runs["throttled"] == 2  # 2 per 10 s
    assert first.deferred == 3
    deferred = [event for event in first.events if event.outcome == "deferred"]
    # Back after the window ends (10 s), spread over a window; the third waits a window
    # more, since two (the limit) are already waiting for the next one: no stampede.
    delays = sorted(event.retry_delay or 0.0 for event in deferred)
    assert 10 - 0.01 <= delays[0] <= delays[1] <= 20 < delays[2] <= 30
    result = fake_broker.drain()
    assert jobs.runs["throttled"] == 5
    assert result.dead_lettered == 0  # max_attempts=1: a charged deferral would kill it


def test_limits_are_per_key_with_limit_by(fake_broker: FakeBroker) -> None:
    jobs.runs.clear()
    for tenant in ("a", "a", "b"):
        brokerjobs.dispatch(jobs.PerTenant(tenant=tenant, n=1))
    fake_broker.drain(run_delayed=False)
    assert (jobs.runs["tenant-a"], jobs.runs["tenant-b"]) == (1, 1)


def test_a_job_over_its_concurrency_limit_is_deferred_until_a_slot_frees(
    fake_broker: FakeBroker,
) -> None:
    jobs.runs.clear()
    busy = keys.limit_key("conc", jobs.OneAtATime(n=0))
    store = fake_broker.store
    slot = store.set_if_absent_sync(f"{busy}#slot0", b"elsewhere", ttl=30)  # held by another
    assert slot
    brokerjobs.dispatch(jobs.OneAtATime(n=1))
    assert fake_broker.drain(run_delayed=False).deferred == 1
    assert jobs.runs["one-at-a-time"] == 0
    assert store.compare_and_delete_sync(f"{busy}#slot0", b"elsewhere")
    result = fake_broker.drain()
    assert (jobs.runs["one-at-a-time"], result.dead_lettered) == (1, 0)
    assert not [k for k in store.keys() if k.startswith(busy)]  # noqa: SIM118 (a method)
