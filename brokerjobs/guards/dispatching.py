"""The guards' part of dispatch: a store check and the uniqueness lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from brokerjobs.guards import keys, unique
from brokerjobs.guards.result import DispatchResult

if TYPE_CHECKING:
    from brokerjobs.backend import Backend
    from brokerjobs.envelope import Envelope
    from brokerjobs.job import Job
    from brokerjobs.store import Store


def needs_store(job: Job, idempotency_key: str | None) -> bool:
    """Whether dispatching ``job`` (or running it) needs a coordination store."""
    return bool(type(job).job_options.guards) or idempotency_key is not None


def store_for(
    cls: type[Job], backend: Backend | str | None, idempotency_key: str | None = None
) -> Store:
    """The store ``cls``'s guards use; :class:`StoreNotConfiguredError` when there is none."""
    from brokerjobs.stores import get_store

    options = cls.job_options
    what = ", ".join(options.guards + (("idempotency_key",) if idempotency_key else ()))
    return get_store(backend=backend, needed_by=f"job {cls.job_name} ({what})")


def unique_lock(envelope: Envelope, job: Job) -> tuple[str, float] | None:
    """The uniqueness lock key and ttl of a prepared job, or None."""
    ttl = type(job).job_options.unique_for
    key = envelope.headers.get(keys.UNIQUE_HEADER)
    return (key, ttl) if key is not None and ttl is not None else None


def duplicate(job_name: str, existing: str) -> DispatchResult:
    """The result of a refused duplicate dispatch (span attribute and metric recorded)."""
    from opentelemetry import trace  # late: a plain dispatch never needs it

    from brokerjobs.guards.signals import GUARD_ATTRIBUTE, count

    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(GUARD_ATTRIBUTE, "skipped: duplicate")
        span.set_attribute("brokerjobs.unique.existing_id", existing)
    count("duplicate_dispatch", job_name)
    return DispatchResult(existing, duplicate=True)


def take_sync(store: Store, lock: tuple[str, float], message_id: str) -> str | None:
    return unique.take_sync(store, lock[0], message_id, lock[1])


async def take(store: Store, lock: tuple[str, float], message_id: str) -> str | None:
    return await unique.take(store, lock[0], message_id, lock[1])
