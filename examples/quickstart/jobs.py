"""Jobs of the example service; workers load them with ``--app examples.quickstart.jobs``.

The names are fixed with ``name=`` so that producers written in other languages (see
docs/wire-format.md) can dispatch them without knowing this module's path.
"""

from __future__ import annotations

import asyncio

from brokerjobs import Job, JobContext, Retry


class SendWelcomeEmail(Job, name="quickstart.send-welcome-email", queue="emails"):
    """Pretends to send a mail: a short async wait."""

    user_id: int

    async def run(self, ctx: JobContext) -> None:
        await asyncio.sleep(0.05)
        ctx.logger.info("welcome mail sent to user %d", self.user_id)


class ResizeImage(Job, name="quickstart.resize-image", max_attempts=3, backoff_base=1.0):
    """A sync job that fails its first attempt when ``flaky``, to show a retry in traces."""

    image_id: int
    width: int = 640
    flaky: bool = False

    def run(self, ctx: JobContext) -> None:
        if self.flaky and ctx.attempt == 1:
            raise Retry("the image store was busy", delay=1.0)
        ctx.logger.info("image %d resized to %d px", self.image_id, self.width)
