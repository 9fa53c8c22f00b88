"""Choosing how ticks are claimed, from what the deployment has.

In order: a configured :class:`brokerjobs.Store` (``BROKERJOBS_STORE``, or the backend's
own store where it is one); the broker's leader lease (RabbitMQ); the broker's
deduplication (SQS FIFO queues, when every scheduled queue is one); the process itself
(the in-memory backend). Anything else fails loudly at start: a scheduler that cannot
claim ticks would double every job as soon as a second replica starts.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from brokerjobs.backend import Backend
from brokerjobs.errors import ScheduleError
from brokerjobs.schedules.broker_claims import (
    DEDUPLICATION_MARGIN,
    DeduplicationClaimer,
    DeduplicationSupport,
    LeaseClaimer,
    SchedulerLeaseSupport,
)
from brokerjobs.schedules.claiming import InProcessClaimer, StoreClaimer, TickClaimer, TickStore
from brokerjobs.schedules.declarations import Schedule

log = logging.getLogger("brokerjobs.schedules")


def configured_store() -> TickStore | None:
    """The deployment's Store, or None when none is configured (or none is installed)."""
    try:
        # Imported late: the Store arrives in its own module, and most processes that
        # only dispatch never need it.
        stores: Any = importlib.import_module("brokerjobs.stores")
    except ImportError:
        return None
    not_configured: Any = getattr(
        importlib.import_module("brokerjobs.errors"), "StoreNotConfiguredError", ()
    )
    try:
        store: TickStore = stores.get_store()
    except not_configured:
        return None
    return store


def job_queue(schedule: Schedule) -> str:
    """The queue ``schedule``'s jobs go to: its ``queue=``, else the job's own.

    A job factory is called once, for the next tick, to learn it (keep factories pure).
    """
    if schedule.queue:
        return schedule.queue
    tick = schedule.timing.after(datetime.now(UTC))
    return type(schedule.make_job(tick)).job_options.queue


def claimer_for(
    backend: Backend,
    schedules: Sequence[Schedule],
    *,
    store: TickStore | None = None,
    group: str = "default",
) -> TickClaimer:
    """The :class:`TickClaimer` for ``backend`` (see the module docstring)."""
    store = store if store is not None else configured_store()
    if store is not None:
        return StoreClaimer(store, backend)
    if isinstance(backend, SchedulerLeaseSupport):
        return LeaseClaimer(backend.scheduler_lease(group), group)
    if isinstance(backend, DeduplicationSupport):
        windows = {job_queue(s): backend.deduplication_window(job_queue(s)) for s in schedules}
        short = sorted(q for q, w in windows.items() if w is None or w <= DEDUPLICATION_MARGIN)
        if not short:
            return DeduplicationClaimer(backend, min(w or 0.0 for w in windows.values()))
        raise ScheduleError(
            f"backend {backend.name!r} drops repeated ticks only on queues that deduplicate "
            f"(SQS: FIFO queues, named *.fifo); {', '.join(short)} do(es) not. Schedule "
            "into FIFO queues, or configure a Store (BROKERJOBS_STORE) for the scheduler"
        )
    if backend.name == "memory":
        return InProcessClaimer(backend)
    raise ScheduleError(
        f"backend {backend.name!r} cannot make sure each tick is dispatched once by "
        "several schedulers; configure a Store (BROKERJOBS_STORE)"
    )
