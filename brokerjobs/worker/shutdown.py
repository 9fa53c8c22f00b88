"""SIGTERM/SIGINT handling: the first signal stops gracefully, the second stops now."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from brokerjobs.worker.worker import Worker

log = logging.getLogger("brokerjobs.worker")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def install_signal_handlers(worker: Worker) -> Callable[[], None]:
    """Route SIGTERM/SIGINT to ``worker``; returns a function that removes the handlers.

    Must be called from the main thread with the worker's loop running.
    """
    loop = asyncio.get_running_loop()
    received = 0

    def handle(signum: int) -> None:
        nonlocal received
        received += 1
        name = signal.Signals(signum).name
        if received == 1:
            log.info(
                "%s received: finishing %d running job%s (send it again to stop now)",
                name,
                worker.running,
                "" if worker.running == 1 else "s",
            )
            worker.request_stop()
        else:
            log.warning("%s received again: stopping now; unfinished jobs are redelivered", name)
            worker.stop_now()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, handle, signum)

    def remove() -> None:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)

    return remove
