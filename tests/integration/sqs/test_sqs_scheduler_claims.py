"""SQS-only tick claiming: FIFO queues deduplicate, standard queues are refused."""

from __future__ import annotations

import pytest

from brokerjobs import Job, JobContext
from brokerjobs.errors import ScheduleError
from brokerjobs.schedules import DeduplicationClaimer, DeduplicationSupport, Schedule, claimer_for
from tests.support.backend_sqs import SQSHarness

pytestmark = pytest.mark.sqs


class Tick(Job, name="tests.sqs.SchedulerTick", queue="ticks.fifo"):
    def run(self, ctx: JobContext) -> None:
        return None


async def test_fifo_queues_report_the_deduplication_window(sqs: SQSHarness) -> None:
    backend = await sqs.new_backend()
    assert isinstance(backend, DeduplicationSupport)
    assert backend.deduplication_window("ticks.fifo") == 300.0
    assert backend.deduplication_window("ticks") is None


async def test_schedules_into_fifo_queues_claim_by_deduplication(sqs: SQSHarness) -> None:
    backend = await sqs.new_backend()
    claimer = claimer_for(backend, [Schedule("t", Tick(), every=1)])
    assert isinstance(claimer, DeduplicationClaimer)


async def test_a_schedule_into_a_standard_queue_without_a_store_is_refused(
    sqs: SQSHarness,
) -> None:
    backend = await sqs.new_backend()
    with pytest.raises(ScheduleError, match="FIFO"):
        claimer_for(backend, [Schedule("t", Tick(), every=1, queue="plain")])
