"""The worker's metric instruments (OpenTelemetry metrics API; no-ops without an SDK).

| name | kind | unit | attributes |
| --- | --- | --- | --- |
| ``messaging.client.consumed.messages`` | counter | ``{message}`` | system, queue, job |
| ``messaging.process.duration`` | histogram | ``s`` | + outcome, error.type |
| ``brokerjobs.job.attempts`` | counter | ``{attempt}`` | + outcome, error.type |
| ``brokerjobs.job.duration`` | histogram | ``s`` | + outcome, error.type |
| ``brokerjobs.job.queue_wait`` | histogram | ``s`` | system, queue, job |
| ``brokerjobs.job.in_flight`` | up-down counter | ``{job}`` | system, queue, job |

``messaging.process.duration`` covers the whole handling (hooks, ``run``, settling), like
the CONSUMER span; ``brokerjobs.job.duration`` covers ``run`` alone.
"""

from __future__ import annotations

from opentelemetry import metrics
from opentelemetry.metrics import MeterProvider
from opentelemetry.util.types import Attributes

from brokerjobs.telemetry import semconv as sc

_Key = tuple[str, str | None, str | None, str | None]


class WorkerInstruments:
    """The instruments plus a cache of attribute sets (so a job allocates none)."""

    def __init__(self, system: str, meter_provider: MeterProvider | None = None) -> None:
        meter = (
            meter_provider.get_meter("brokerjobs")
            if meter_provider is not None
            else metrics.get_meter("brokerjobs")
        )
        self.system = system
        self.consumed = meter.create_counter(
            "messaging.client.consumed.messages",
            unit="{message}",
            description="Messages delivered to the worker for processing.",
        )
        self.process_duration = meter.create_histogram(
            "messaging.process.duration",
            unit="s",
            description="Duration of handling one message: hooks, run and settling.",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS,
        )
        self.attempts = meter.create_counter(
            "brokerjobs.job.attempts",
            unit="{attempt}",
            description="Job attempts that ended, by outcome (success, retry, dead_letter, lost).",
        )
        self.run_duration = meter.create_histogram(
            "brokerjobs.job.duration",
            unit="s",
            description="Duration of a job's run() (time limit included).",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS,
        )
        self.queue_wait = meter.create_histogram(
            "brokerjobs.job.queue_wait",
            unit="s",
            description="Time from when a job became due (created_at or not_before) to its "
            "first attempt's start.",
            explicit_bucket_boundaries_advisory=sc.WAIT_BUCKETS,
        )
        self.in_flight = meter.create_up_down_counter(
            "brokerjobs.job.in_flight",
            unit="{job}",
            description="Jobs being handled right now.",
        )
        self._cache: dict[_Key, Attributes] = {}

    def attributes(
        self,
        queue: str,
        job: str | None,
        outcome: str | None = None,
        error: str | None = None,
    ) -> Attributes:
        """The (cached, shared: do not mutate) attributes for one queue/job/outcome/error."""
        key = (queue, job, outcome, error)
        found = self._cache.get(key)
        if found is None:
            built: dict[str, str] = {
                sc.MESSAGING_SYSTEM: self.system,
                sc.OPERATION_NAME: sc.PROCESS,
                sc.DESTINATION_NAME: queue,
            }
            if job is not None:
                built[sc.JOB_NAME] = job
            if outcome is not None:
                built[sc.OUTCOME] = outcome
            if error is not None:
                built[sc.ERROR_TYPE] = error
            if len(self._cache) < 10_000:  # unbounded job names must not leak memory
                self._cache[key] = built
            found = built
        return found
