"""A short in-memory history of queue samples, for the charts of the queues page.

The backend contract gives counts, not rates, so the page keeps its own samples:
``brokerjobs stats`` every few seconds per queue. From two samples it derives how many
letters were dead-lettered per minute (the failure rate the contract lets us see).
Throughput of successful jobs is not derivable from counts alone: it needs metrics
(the Prometheus endpoint), which the dashboard does not read yet.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass

from brokerjobs.backend import QueueStats


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    """``time.time()`` when taken."""
    stats: QueueStats


class History:
    """The last ``size`` samples of each queue."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._samples: dict[str, deque[Sample]] = {}

    def add(self, stats: QueueStats, at: float | None = None) -> None:
        samples = self._samples.setdefault(stats.queue, deque(maxlen=self.size))
        samples.append(Sample(time.time() if at is None else at, stats))

    def fresh(self, queue: str, max_age: float) -> QueueStats | None:
        """The latest sample of ``queue`` if taken less than ``max_age`` seconds ago."""
        samples = self._samples.get(queue)
        if samples and time.time() - samples[-1].at < max_age:
            return samples[-1].stats
        return None

    def samples(self, queue: str) -> list[Sample]:
        return list(self._samples.get(queue, ()))

    def dead_per_minute(self, queue: str) -> float | None:
        """Letters dead-lettered per minute over the kept window (None: too few samples).

        Only increases count: a replay or purge lowers the dead count without meaning
        that fewer jobs failed.
        """
        samples = self.samples(queue)
        if len(samples) < 2 or samples[-1].at <= samples[0].at:
            return None
        added = sum(
            max(0, after.stats.dead - before.stats.dead)
            for before, after in itertools.pairwise(samples)
        )
        return added * 60.0 / (samples[-1].at - samples[0].at)


def sparkline(values: list[int], width: int = 120, height: int = 24) -> str:
    """SVG polyline points for ``values`` scaled into ``width`` x ``height`` ("" if < 2)."""
    if len(values) < 2:
        return ""
    top = max(values) or 1
    step = width / (len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - (value / top) * (height - 2) - 1:.1f}"
        for i, value in enumerate(values)
    )
