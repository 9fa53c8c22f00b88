"""RabbitMQ faults that exposed bugs (see docs/reliability.md, "Bugs found").

The tests stay as regression tests; the one xfail (not strict: a race) documents what
the non-default ``wait_queue_type="classic"`` risks.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from brokerjobs import dispatch_async
from brokerjobs.backend import OutgoingMessage
from brokerjobs.errors import BrokerUnavailableError
from tests.faults import jobs
from tests.faults.checker import assert_sound, drain
from tests.faults.conftest import make_fleet
from tests.faults.fleet import Fleet
from tests.faults.ledger import Ledger
from tests.faults.producer import new_keys, produce
from tests.faults.scenarios import until_started
from tests.faults.targets import RabbitTarget
from tests.faults.test_rabbitmq_broker_faults import consumers_back, quiescent
from tests.support.harness import eventually

pytestmark = [pytest.mark.faults, pytest.mark.rabbitmq, pytest.mark.slow]


async def test_prefetched_deliveries_of_a_dropped_connection_are_not_started(
    rabbit: RabbitTarget, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """T7b: one running job and one prefetched when the connection drops; once the
    running one ends, the prefetched one must come back through the broker (attempt 2),
    not be started from the dead channel's buffer (attempt 1, then again)."""
    backend = rabbit.backend()
    keys = new_keys(2)
    await produce(backend, rabbit.queue, ledger, keys, lambda k: jobs.Work(key=k, seconds=5.0))
    fleet = make_fleet(fleet_factory, rabbit, ledger, "--concurrency", "1", "--prefetch", "1")
    fleet.spawn()
    await until_started(ledger, 1)
    await asyncio.to_thread(rabbit.node.close_all_connections, "bjfaults T7b")
    after = time.time()
    verdict = await drain(ledger, backend, rabbit.queue, timeout=60)
    assert_sound(verdict, max_duplicates=1)
    stale = [r for r in ledger.executions() if r.attempt == 1 and r.started > after]
    assert not stale, f"started from a dead channel's buffer: {stale}"


async def test_a_dispatch_that_timed_out_under_an_alarm_runs_at_most_once(
    rabbit: RabbitTarget, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """T9b: the caller was told the dispatch failed (and will likely dispatch again)."""
    fleet = make_fleet(fleet_factory, rabbit, ledger, "--concurrency", "4")
    await rabbit.backend().declare(rabbit.queue)
    fleet.spawn()
    await consumers_back(rabbit, 1)
    await asyncio.to_thread(rabbit.node.memory_alarm, True)
    try:
        ledger.attempted(["timed-out"])
        with pytest.raises(BrokerUnavailableError):
            await dispatch_async(
                jobs.Work(key="timed-out"), backend=rabbit.backend(), queue=rabbit.queue
            )
    finally:
        await asyncio.to_thread(rabbit.node.memory_alarm, False)
    marker = new_keys(1)
    await produce(rabbit.backend(), rabbit.queue, ledger, marker, lambda k: jobs.Work(key=k))
    await drain(ledger, rabbit.backend(), rabbit.queue, timeout=30)
    await asyncio.sleep(2)  # what was stuck in the socket arrives right after the alarm
    runs = [r for r in ledger.executions() if r.key == "timed-out"]
    assert len(runs) <= 1, f"a dispatch that raised ran {len(runs)} times"


async def test_a_retry_published_under_an_alarm_runs_once_promptly_after_it(
    rabbit: RabbitTarget, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """T9c: jobs fail while publishing is blocked. Their retries are not dropped (lost 0),
    run once (the copy that was stuck in the socket is not joined by a requeued original)
    and soon after the alarm clears, well before the 20 s consumer timeout."""
    backend = rabbit.backend()
    keys = new_keys(4)
    await produce(backend, rabbit.queue, ledger, keys, lambda k: jobs.Work(key=k, flaky=True))
    await asyncio.to_thread(rabbit.node.memory_alarm, True)
    try:
        fleet = make_fleet(fleet_factory, rabbit, ledger, "--concurrency", "4")
        fleet.spawn()

        async def first_attempts_failed() -> bool:
            failed = {r.key for r in ledger.executions() if r.outcome == "failed"}
            return failed == set(keys)

        await eventually(first_attempts_failed, timeout=30)
        # The retries are being published now, into a blocked connection: let the
        # publish timeout (3 s) pass, so a worker that gave up at it would be caught.
        await asyncio.sleep(4)
    finally:
        await asyncio.to_thread(rabbit.node.memory_alarm, False)
    cleared = time.time()
    verdict = await drain(ledger, backend, rabbit.queue, timeout=60)
    assert not verdict.lost, verdict.summary()  # retries are not dropped
    await quiescent(rabbit)
    verdict = await drain(ledger, backend, rabbit.queue, timeout=5)
    late = [r for r in ledger.executions() if r.outcome == "ok" and r.started > cleared + 10]
    assert not late, f"{len(late)} retries waited for the consumer timeout"
    assert verdict.duplicates == 0, verdict.summary()


async def test_queue_deleted_under_a_consumer_is_redeclared_and_served(
    rabbit: RabbitTarget, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """T13: an operator deletes the work queue; the worker re-subscribes (no silent idle)."""
    backend = rabbit.backend()
    await backend.declare(rabbit.queue)
    fleet = make_fleet(fleet_factory, rabbit, ledger, "--concurrency", "2")
    fleet.spawn()
    await consumers_back(rabbit, 1)
    await asyncio.to_thread(rabbit.node.ctl, "delete_queue", rabbit.broker_queue())
    await consumers_back(rabbit, 1, timeout=15)

    keys = new_keys(10)
    fresh = rabbit.backend()
    await produce(fresh, rabbit.queue, ledger, keys, lambda k: jobs.Work(key=k))
    verdict = await drain(ledger, backend, rabbit.queue, timeout=30)
    assert_sound(verdict, max_duplicates=0)
    assert all(m.alive() for m in fleet.members.values()), fleet.output()


@pytest.mark.record  # 50 s for a non-default setting: kept out of CI's short tier
@pytest.mark.xfail(
    strict=False,  # the loss needs an expiry inside the shutdown window: most runs, not all
    reason="RabbitMQ backend: delays and retries hop through classic wait queues, whose "
    "dead-lettering is at-most-once; a message expiring while the node stops (a clean "
    "stop_app) is dropped. The 100k soak lost one retry this way; hence quorum wait "
    "queues are the default.",
)
async def test_classic_wait_queues_lose_delayed_messages_in_a_clean_broker_restart(
    rabbit: RabbitTarget,
) -> None:
    """T6b on ``wait_queue_type="classic"``: 1200 messages hopping between wait levels
    when stop_app/start_app hits. Kept as the record of why classic is not the default.

    Delays spread over 0.25-16 s, so messages expire between levels all through the
    window in which rabbitmqctl (slow to start on a loaded machine) stops the node."""
    await delayed_messages_survive_restart(
        rabbit, count=1200, levels=64, timeout=45, wait_queue_type="classic"
    )


async def delayed_messages_survive_restart(
    rabbit: RabbitTarget, *, count: int, levels: int, timeout: float, **options: Any
) -> None:
    """Publish ``count`` messages delayed 0.25 s x (1..``levels``), restart the node,
    and fail unless every one of them arrives."""
    backend = rabbit.backend(**options)
    await backend.declare(rabbit.queue)
    messages = [
        OutgoingMessage(body=b"x", message_id=f"m{i}", delay=0.25 + (i % levels) * 0.25)
        for i in range(count)
    ]
    await backend.publish_batch(rabbit.queue, messages)
    await asyncio.to_thread(rabbit.node.restart_app, 1.0)
    consumer = rabbit.backend(**options)
    subscription = await consumer.consume([rabbit.queue], prefetch=200)
    seen: set[str] = set()

    async def all_arrived() -> bool:
        try:
            delivery = await asyncio.wait_for(anext(subscription), 0.5)
        except TimeoutError:
            return len(seen) == len(messages)
        seen.add(delivery.message_id)
        await consumer.ack(delivery)
        return len(seen) == len(messages)

    try:
        await eventually(all_arrived, timeout=timeout, interval=0)
    except AssertionError:
        missing = len(messages) - len(seen)
        held = {n: c for n, c in (await asyncio.to_thread(rabbit.node.queues)).items() if any(c)}
        raise AssertionError(
            f"{missing} delayed messages missing after a clean restart; queues: {held}"
        ) from None
    finally:
        await subscription.stop()
