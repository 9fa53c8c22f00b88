"""Per-job execution options: queue, attempts, backoff, time limit, priority."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

DEFAULT_QUEUE = "default"


@dataclass(frozen=True, slots=True)
class JobOptions:
    """How a job is queued and retried. Set per class, overridable per dispatch.

    The retry delay before attempt ``n + 1`` is ``min(backoff_cap, backoff_base * 2**(n-1))``
    shrunk by a random fraction of up to ``backoff_jitter`` (so retries of many jobs that
    failed together spread out instead of stampeding).
    """

    queue: str = DEFAULT_QUEUE
    max_attempts: int = 5
    backoff_base: float = 2.0
    backoff_cap: float = 3600.0
    backoff_jitter: float = 0.25
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    """Exception types that are retried; any other exception dead-letters at once."""
    time_limit: float | None = None
    """Seconds a single attempt may run; ``None`` for no limit."""
    priority: int = 0
    """Higher runs first where the backend supports priorities."""

    def __post_init__(self) -> None:
        problems = []
        if not self.queue or len(self.queue) > 80:
            problems.append(f"queue must be 1 to 80 characters, got {self.queue!r}")
        if self.max_attempts < 1:
            problems.append(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.backoff_base < 0:
            problems.append(f"backoff_base must be >= 0 seconds, got {self.backoff_base}")
        if self.backoff_cap < self.backoff_base:
            problems.append(f"backoff_cap ({self.backoff_cap}) must be >= backoff_base")
        if not 0.0 <= self.backoff_jitter <= 1.0:
            problems.append(f"backoff_jitter must be between 0 and 1, got {self.backoff_jitter}")
        if self.time_limit is not None and self.time_limit <= 0:
            problems.append(f"time_limit must be > 0 seconds, got {self.time_limit}")
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in self.retry_on):
            problems.append("retry_on must be a tuple of exception classes")
        if problems:
            raise ValueError("invalid job options: " + "; ".join(problems))

    def replace(self, **changes: Any) -> JobOptions:
        """A copy with ``changes`` applied (``None`` values are ignored)."""
        given = {key: value for key, value in changes.items() if value is not None}
        return dataclasses.replace(self, **given) if given else self

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        exponent = min(max(attempt - 1, 0), 62)
        delay = min(self.backoff_cap, self.backoff_base * (2.0**exponent))
        if self.backoff_jitter:
            delay *= 1.0 - self.backoff_jitter * (rng or random).random()
        return delay

    def retries(self, exc: BaseException) -> bool:
        """Whether ``exc`` is one this job retries."""
        return isinstance(exc, self.retry_on)
