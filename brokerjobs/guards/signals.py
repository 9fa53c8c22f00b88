"""What the guards report: one span attribute, one counter, log lines."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

log = logging.getLogger("brokerjobs.guards")

GUARD_ATTRIBUTE = "brokerjobs.guard"
"""Span attribute: what a guard did ("skipped: duplicate", "delayed: rate limited"...)."""
DECISIONS = "brokerjobs.guard.decisions"
"""Counter of guard decisions, by ``brokerjobs.guard.decision`` and ``brokerjobs.job.name``."""


@cache
def _counter() -> Any:
    from opentelemetry import metrics  # late: importing the worker stays light

    meter = metrics.get_meter("brokerjobs")
    return meter.create_counter(
        DECISIONS, unit="{decision}", description="Jobs skipped or delayed by a guard"
    )


def count(decision: str, job_name: str) -> None:
    """Count one ``decision`` (``duplicate_dispatch``, ``rate_limited``...) for ``job_name``."""
    _counter().add(1, {"brokerjobs.guard.decision": decision, "brokerjobs.job.name": job_name})


def mark(decision: str, text: str, job_name: str) -> None:
    """Set the current span's guard attribute to ``text`` and count ``decision``."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(GUARD_ATTRIBUTE, text)
    count(decision, job_name)
