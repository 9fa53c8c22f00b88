"""Jobs of the README demo (``python -m examples.demo``)."""

from __future__ import annotations

import asyncio

from brokerjobs import Fail, Job, JobContext


class SendWelcomeEmail(Job, name="demo.send-welcome-email", queue="emails"):
    """An async job: pretends to send a mail."""

    user_id: int

    async def run(self, ctx: JobContext) -> None:
        await asyncio.sleep(0.01)
        ctx.logger.info("welcome mail sent to user %d", self.user_id)


class ChargeCard(Job, name="demo.charge-card", queue="payments", max_attempts=2, backoff_base=0.5):
    """A sync job: the first attempt hits a flaky gateway; a negative amount never works."""

    order_id: int
    amount_cents: int

    def run(self, ctx: JobContext) -> None:
        if ctx.attempt == 1:
            raise ConnectionError("payment gateway timed out")
        if self.amount_cents <= 0:
            raise Fail(f"cannot charge {self.amount_cents} cents")
        ctx.logger.info("charged %d cents for order %d", self.amount_cents, self.order_id)
