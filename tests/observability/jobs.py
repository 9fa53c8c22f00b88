"""Jobs for the observability tests (importable, so subprocess workers find them too)."""

from __future__ import annotations

import logging

from opentelemetry import trace

from brokerjobs import Job, JobContext
from brokerjobs.telemetry.redact import Sensitive

log = logging.getLogger("tests.observability.jobs")
tracer = trace.get_tracer("tests.observability")


class Traced(Job, name="bjobs.traced"):
    """Opens a child span and logs a line from inside ``run``."""

    note: str = ""

    async def run(self, ctx: JobContext) -> None:
        with tracer.start_as_current_span("inside async run"):
            log.info("async job ran %s", self.note)


class SyncTraced(Job, name="bjobs.sync_traced"):
    """Same from a sync job, which the worker runs in a thread."""

    note: str = ""

    def run(self, ctx: JobContext) -> None:
        with tracer.start_as_current_span("inside sync run"):
            log.info("sync job ran %s", self.note)


class FailOnce(Job, name="bjobs.fail_once", max_attempts=3, backoff_base=0.2, backoff_jitter=0.0):
    async def run(self, ctx: JobContext) -> None:
        if ctx.attempt == 1:
            raise ConnectionError("smtp down on attempt 1")


class AlwaysFail(
    Job, name="bjobs.always_fail", max_attempts=2, backoff_base=0.1, backoff_jitter=0.0
):
    def run(self, ctx: JobContext) -> None:
        raise ValueError(f"broken on attempt {ctx.attempt}")


class Login(Job, name="bjobs.login", max_attempts=1):
    """Has a sensitive field and leaks it into its error message and a log line."""

    user: str
    password: Sensitive

    def run(self, ctx: JobContext) -> None:
        log.warning("logging in %s with %s", self.user, self.password)
        raise PermissionError(f"login refused for {self.user}:{self.password}")
