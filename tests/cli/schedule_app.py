"""An app with schedules for the CLI tests: a 1-second tick and a nightly report."""

from __future__ import annotations

from brokerjobs import Job, JobContext
from brokerjobs.schedules import schedule


class Beat(Job, name="tests.cli.Beat", queue="sched"):
    def run(self, ctx: JobContext) -> None:
        return None


class NightlyReport(Job, name="tests.cli.NightlyReport", queue="sched"):
    def run(self, ctx: JobContext) -> None:
        return None


schedule("beat", Beat(), every=1)
schedule("nightly-report", NightlyReport(), cron="30 2 * * *", timezone="Europe/Berlin")
