"""The worker's metric instruments (OpenTelemetry metrics API; no-ops without an SDK).

| name | kind | unit | attributes |
| --- | --- | --- | --- |
| ``messaging.client.consumed.messages`` | counter | ``{message}`` | system, queue, job |
| ``messaging.process.duration`` | histogram | ``s`` | + outcome, error.type |
| ``brokerjobs.job.duration`` | histogram | ``s`` | + outcome, error.type |
| ``brokerjobs.job.queue_wait`` | histogram | ``s`` | system, queue, job |
| ``brokerjobs.job.in_flight`` | observable up-down counter | ``{job}`` | system, queue, job |

``messaging.process.duration`` covers the whole handling (hooks, ``run``, settling), like
the CONSUMER span; ``brokerjobs.job.duration`` covers ``run`` alone. Jobs by outcome are
the histograms' counts per ``brokerjobs.job.outcome`` (as HTTP request counts are the
count of ``http.server.request.duration``): one measurement less per job. Jobs in flight
are plain integers read at collection time, not two measurements per job.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import MeterProvider, Observation
from opentelemetry.util.types import Attributes

from brokerjobs.telemetry import semconv as sc
from brokerjobs.telemetry.observable import observe

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
        self.in_flight: dict[tuple[str, str | None], int] = {}
        """Jobs being handled now, per (queue, job); change with :meth:`started`/:meth:`ended`."""
        observe(
            self,
            WorkerInstruments._observe_in_flight,
            "brokerjobs.job.in_flight",
            "up_down_counter",
            unit="{job}",
            description="Jobs being handled right now.",
            meter_provider=meter_provider,
        )
        self._cache: dict[_Key, Attributes] = {}

    def started(self, queue: str, job: str | None) -> None:
        key = (queue, job)
        self.in_flight[key] = self.in_flight.get(key, 0) + 1

    def ended(self, queue: str, job: str | None) -> None:
        key = (queue, job)
        self.in_flight[key] -= 1

    def _observe_in_flight(self) -> Iterable[Observation]:
        for (queue, job), count in list(self.in_flight.items()):
            yield Observation(count, self.attributes(queue, job))

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
