"""How long a job over its limit waits: long enough that the jobs refused together queue up
behind the limit instead of all coming back at the next chance (no busy loop).

Each worker process counts the deliveries it deferred for one limit key that are still
away. The k-th of them is sent back ``k // limit`` limit periods later (a rate window, or
a job's typical run time for a concurrency slot), spread at random within that period.
Processes do not share their counts: with P processes a period sees up to P times the
limit come back, and the excess is deferred again, later still.
"""

from __future__ import annotations

import random
import time


class Backlog:
    """Deliveries this process deferred per limit key, and when each one comes back."""

    def __init__(self) -> None:
        self._away: dict[str, list[float]] = {}

    def delay(self, key: str, *, first: float, period: float, limit: int) -> float:
        """Seconds to defer one more delivery: ``first`` (the soonest a slot may free, or
        the window's end) plus a period per ``limit`` deliveries already away."""
        now = time.monotonic()
        away = [back for back in self._away.get(key, []) if back > now]
        queued_periods = len(away) // max(1, limit)
        delay = min(3600.0, first + period * queued_periods + random.uniform(0, period))
        away.append(now + delay)
        self._away[key] = away
        return delay
