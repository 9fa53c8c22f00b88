"""What the worker checks and prepares before it fetches anything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from brokerjobs.backend import Backend
from brokerjobs.errors import BrokerUnavailableError, ConfigurationError
from brokerjobs.job import JobRegistry
from brokerjobs.worker.intake import Reconnect

log = logging.getLogger("brokerjobs.worker")


def check_time_limits(backend: Backend, registry: JobRegistry, queues: Sequence[str]) -> None:
    """Refuse jobs of ``queues`` whose time limit exceeds what the backend can hold."""
    max_lease = backend.max_lease
    if max_lease is None:
        return
    for name in registry.names():
        options = registry.get(name).job_options
        limit = options.time_limit
        if options.queue in queues and limit is not None and limit > max_lease:
            raise ConfigurationError(
                f"job {name!r} has a time limit of {limit:g} s, longer than the "
                f"{backend.name} backend can hold a message ({max_lease:g} s); "
                "lower its time_limit"
            )


async def declare_queues(
    backend: Backend,
    queues: Sequence[str],
    policy: Reconnect,
    wake: asyncio.Event,
    stopped: Callable[[], bool],
) -> bool:
    """Declare ``queues``, waiting out an unreachable broker with backoff.

    Returns False when a stop was requested before the broker answered.
    """
    attempt = 0
    while not stopped():
        try:
            for queue in queues:
                await backend.declare(queue)
            return True
        except BrokerUnavailableError as exc:
            attempt += 1
            delay = policy.delay(attempt)
            log.warning(
                "broker unavailable (%s); retrying in %.1f s (attempt %d)", exc, delay, attempt
            )
            wake.clear()
            if stopped():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), delay)
    return False
