"""Job classes shared by the unit tests (module level, so their names are stable)."""

from __future__ import annotations

from brokerjobs import Job, JobContext


class SendWelcomeEmail(Job, queue="emails", max_attempts=3):
    user_id: int

    def run(self, ctx: JobContext) -> None:
        return None


class ResizeImage(Job, name="images.resize", time_limit=30.0):
    path: str
    width: int = 100

    async def run(self, ctx: JobContext) -> None:
        return None


class BaseReport(Job, abstract=True, queue="reports"):
    report_id: int


class MonthlyReport(BaseReport, max_attempts=7):
    def run(self, ctx: JobContext) -> None:
        return None


class Blob(Job):
    data: str

    def run(self, ctx: JobContext) -> None:
        return None
