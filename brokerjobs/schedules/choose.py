"""Choosing how ticks are claimed, from what the deployment has.

In order: a configured :class:`brokerjobs.Store` (``BROKERJOBS_STORE``, or the backend's
own store where it is one); the broker's leader lease (RabbitMQ); the broker's
deduplication (SQS FIFO queues, when every scheduled queue is one); the process itself
(the in-memory backend). Anything else fails loudly at start: a scheduler that cannot
claim ticks would double every job as soon as a second replica starts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from brokerjobs import config
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


def configured_store(backend: Backend) -> TickStore | None:
    """The deployment's Store (``BROKERJOBS_STORE``, else ``backend`` itself where it is one).

    None when there is none: RabbitMQ-only and SQS-only deployments claim ticks through
    the broker instead.
    """
    from brokerjobs.errors import StoreNotConfiguredError
    from brokerjobs.stores import get_store

    try:
        store: TickStore = get_store(backend=backend, needed_by="the scheduler")
    except StoreNotConfiguredError:
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
    if store is None and backend.name == "memory" and not config.settings().store:
        return InProcessClaimer(backend)  # one process: its own store would add nothing
    store = store if store is not None else configured_store(backend)
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
    raise ScheduleError(
        f"backend {backend.name!r} cannot make sure each tick is dispatched once by "
        "several schedulers; configure a Store (BROKERJOBS_STORE)"
    )
