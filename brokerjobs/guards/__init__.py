"""Unique jobs, idempotency keys, rate and concurrency limits, all on the coordination Store.

Job options (``unique_for``, ``unique_by``, ``unique_until``, ``idempotency_key_by``,
``idempotency_ttl``, ``rate_limit``, ``concurrency_limit``, ``limit_by``) declare them;
dispatch takes uniqueness locks, and :class:`GuardMiddleware`, which every worker installs
for the jobs that need it, does the rest. See docs/coordination.md.
"""

from __future__ import annotations

from brokerjobs.guards.result import DispatchResult

__all__ = ["DispatchResult"]
