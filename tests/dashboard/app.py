"""Jobs for the browser tests (``brokerjobs ... --app tests.dashboard.app``)."""

from __future__ import annotations

from pathlib import Path

from brokerjobs import Job, JobContext

QUEUE = "dash-jobs"


class Flaky(Job, name="dashtest.Flaky", queue=QUEUE, max_attempts=1):
    """Fails until the file ``marker`` exists: dead-lettered first, runs after a replay."""

    marker: str

    def run(self, ctx: JobContext) -> None:
        if not Path(self.marker).exists():
            raise RuntimeError(f"marker {self.marker} not there yet")


class Evil(Job, name="dashtest.Evil", queue=QUEUE, max_attempts=1):
    """Always fails, carrying markup the dashboard must show as text."""

    html: str

    def run(self, ctx: JobContext) -> None:
        raise ValueError(self.html)
