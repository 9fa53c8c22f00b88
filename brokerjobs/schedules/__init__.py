"""Recurring jobs: schedules declared in code, and a scheduler safe to run on every replica.

::

    from brokerjobs.schedules import Misfire, schedule

    schedule("nightly-report", NightlyReport(), cron="0 2 * * *", timezone="Europe/Berlin")

Run ``brokerjobs scheduler --app myservice.jobs`` (or ``brokerjobs consume
--with-scheduler``) on as many replicas as you like: each tick is dispatched once. See
``docs/schedules.md`` for how ticks are claimed on each backend.
"""

from brokerjobs.schedules.broker_claims import (
    DeduplicationClaimer,
    DeduplicationSupport,
    LeaseClaimer,
    SchedulerLease,
    SchedulerLeaseSupport,
)
from brokerjobs.schedules.choose import claimer_for
from brokerjobs.schedules.claiming import InProcessClaimer, StoreClaimer, TickClaimer
from brokerjobs.schedules.declarations import (
    SCHEDULE_HEADER,
    TICK_HEADER,
    Misfire,
    Schedule,
    ScheduleRegistry,
    schedule,
    schedules,
    tick_of,
)
from brokerjobs.schedules.scheduler import Scheduler, ScheduleState

__all__ = [
    "SCHEDULE_HEADER",
    "TICK_HEADER",
    "DeduplicationClaimer",
    "DeduplicationSupport",
    "InProcessClaimer",
    "LeaseClaimer",
    "Misfire",
    "Schedule",
    "ScheduleRegistry",
    "ScheduleState",
    "Scheduler",
    "SchedulerLease",
    "SchedulerLeaseSupport",
    "StoreClaimer",
    "TickClaimer",
    "claimer_for",
    "schedule",
    "schedules",
    "tick_of",
]
