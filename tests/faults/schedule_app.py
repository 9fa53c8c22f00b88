"""The app of the scheduler fault runs: one 1-second schedule, named by the environment.

``BJSCHED_NAME`` and ``BJSCHED_QUEUE`` make every run's schedule and queue its own.
"""

from __future__ import annotations

import os

from brokerjobs import Job, JobContext
from brokerjobs.schedules import Misfire, schedule


class SchedulerTick(Job, name="tests.faults.SchedulerTick"):
    """Never run by the test: the ledger reads the messages themselves."""

    def run(self, ctx: JobContext) -> None:
        return None


schedule(
    os.environ.get("BJSCHED_NAME", "fault-tick"),
    SchedulerTick(),
    every=1,
    queue=os.environ.get("BJSCHED_QUEUE", "ticks"),
    # Failovers take well under the grace; a tick later than that would count as missed.
    misfire=Misfire.run_all(within=120, grace=30),
)
