"""Per-job execution options: queue, attempts, backoff, time limit, priority."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_QUEUE = "default"
UniqueUntil = Literal["queued", "started", "finished"]


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
    # -- guards (brokerjobs.guards; each needs a coordination store) --------------------
    unique_for: float | None = None
    """Seconds a dispatch holds the job's uniqueness lock; a duplicate returns the first id."""
    unique_by: tuple[str, ...] | None = None
    """Payload fields that make two jobs duplicates (default: every field)."""
    unique_until: UniqueUntil = "finished"
    """When the lock is released: a worker took the job (``queued``), its run began
    (``started``), or it was acked or dead-lettered (``finished``); expiry in any case."""
    idempotency_key_by: tuple[str, ...] | None = None
    """Payload fields the idempotency key is derived from (or pass ``idempotency_key=``)."""
    idempotency_ttl: float = 24 * 3600.0
    """Seconds a completed key is remembered; later deliveries are acked without running."""
    rate_limit: tuple[int, float] | None = None
    """``(n, seconds)``: at most n runs start per window of that many seconds."""
    concurrency_limit: int | None = None
    """At most this many run at once, across every worker process and machine."""
    limit_by: tuple[str, ...] | None = None
    """Payload fields giving each value its own limits (per tenant, ...)."""

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
        problems += self._guard_problems()
        if problems:
            raise ValueError("invalid job options: " + "; ".join(problems))

    def _guard_problems(self) -> list[str]:
        problems = []
        if self.unique_for is not None and self.unique_for <= 0:
            problems.append(f"unique_for must be > 0 seconds, got {self.unique_for}")
        if self.unique_until not in ("queued", "started", "finished"):
            problems.append(f"unique_until must be queued, started or finished, got "
                            f"{self.unique_until!r}")  # fmt: skip
        if self.idempotency_ttl <= 0:
            problems.append(f"idempotency_ttl must be > 0 seconds, got {self.idempotency_ttl}")
        if self.rate_limit is not None:
            count, per = self.rate_limit
            if count < 1 or per <= 0:
                problems.append(f"rate_limit must be (n >= 1, seconds > 0), got {self.rate_limit}")
        if self.concurrency_limit is not None and self.concurrency_limit < 1:
            problems.append(f"concurrency_limit must be >= 1, got {self.concurrency_limit}")
        for name in ("unique_by", "idempotency_key_by", "limit_by"):
            fields = getattr(self, name)
            if fields is not None and (
                isinstance(fields, str) or not all(isinstance(f, str) for f in fields)
            ):
                problems.append(f"{name} must be a tuple of field names, got {fields!r}")
        return problems

    @property
    def guards(self) -> tuple[str, ...]:
        """The options set that need a coordination store, by name (empty: none)."""
        names = ("unique_for", "idempotency_key_by", "rate_limit", "concurrency_limit")
        return tuple(name for name in names if getattr(self, name) is not None)

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
