"""A scheduler process that claims ticks in the SQLite stand-in Store (``$BJSCHED_STORE``).

``python -m tests.faults.store_scheduler``: what ``brokerjobs scheduler`` will do by
itself once ``BROKERJOBS_STORE`` exists; the backend comes from the environment as usual.
"""

from __future__ import annotations

import asyncio
import os

import tests.faults.schedule_app  # noqa: F401 (declares the schedule)
from brokerjobs.cli.common import open_backend, setup_logging
from brokerjobs.schedules import Scheduler, StoreClaimer
from brokerjobs.schedules.running import run_until_signal
from tests.faults.sqlite_standin_store import SqliteStandInStore


async def main() -> None:
    backend = open_backend(None)
    store = SqliteStandInStore(os.environ["BJSCHED_STORE"])
    scheduler = Scheduler(backend, claimer=StoreClaimer(store, backend))
    try:
        await run_until_signal(scheduler)
    finally:
        await backend.aclose()
        backend.close()


if __name__ == "__main__":
    setup_logging("text", "INFO")
    asyncio.run(main())
