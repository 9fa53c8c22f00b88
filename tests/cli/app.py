"""Jobs for the CLI tests (imported by ``brokerjobs ... --app tests.cli.app``)."""

from __future__ import annotations

import time
from pathlib import Path

from brokerjobs import Job, JobContext


class Greet(Job, name="clitest.Greet", queue="cli-default"):
    who: str

    async def run(self, ctx: JobContext) -> None:
        ctx.logger.info("hello %s", self.who)


class Explode(
    Job,
    name="clitest.Explode",
    queue="cli-default",
    max_attempts=2,
    backoff_base=0.1,
    backoff_jitter=0.0,
):
    why: str

    def run(self, ctx: JobContext) -> None:
        raise RuntimeError(self.why)


class AlwaysFails(Job, name="nc.always-fails", queue="cli-default", max_attempts=1):
    """A job whose registered name is not its class name (a namespace, kebab case)."""

    def run(self, ctx: JobContext) -> None:
        raise RuntimeError("always")


class Nap(Job, name="clitest.Nap", queue="cli-default"):
    """Touches ``started`` (a file path), then sleeps ``seconds``."""

    started: str
    seconds: float

    def run(self, ctx: JobContext) -> None:
        Path(self.started).touch()
        time.sleep(self.seconds)
