"""Dispatching jobs: validate, wrap in an envelope, hand to the backend, return the id."""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from brokerjobs import config, telemetry
from brokerjobs.backend import Backend, OutgoingMessage
from brokerjobs.discovery import get_backend
from brokerjobs.envelope import Envelope, encode, new_message_id, utcnow
from brokerjobs.errors import (
    BrokerJobsError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    ConfigurationError,
    DispatchError,
    PayloadTooLargeError,
)
from brokerjobs.guards import dispatching as guarded
from brokerjobs.guards import unique
from brokerjobs.guards.result import DispatchResult
from brokerjobs.job import Job
from brokerjobs.options import JobOptions
from brokerjobs.store import Store

Delay = float | int | timedelta


@dataclass(frozen=True, slots=True)
class _Prepared:
    queue: str
    message: OutgoingMessage
    envelope: Envelope


def _delay_seconds(delay: Delay | None, eta: datetime | None, now: datetime) -> float:
    if delay is not None and eta is not None:
        raise DispatchError("give either delay or eta, not both")
    if eta is not None:
        if eta.tzinfo is None:
            raise DispatchError("eta must be timezone-aware (e.g. datetime.now(UTC) + ...)")
        return max(0.0, (eta - now).total_seconds())
    if delay is None:
        return 0.0
    seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
    if seconds < 0:
        raise DispatchError(f"delay must be >= 0 seconds, got {seconds}")
    return seconds


@functools.lru_cache(maxsize=256)
def _overridden(
    options: JobOptions, queue: str | None, max_attempts: int | None, priority: int | None
) -> JobOptions:
    # Cached: building and re-validating the options took a fifth of prepare() whenever
    # a dispatch names its queue, and most services dispatch to a handful of queues.
    return options.replace(queue=queue, max_attempts=max_attempts, priority=priority)


def prepare(
    job: Job,
    backend: Backend,
    *,
    queue: str | None = None,
    delay: Delay | None = None,
    eta: datetime | None = None,
    max_attempts: int | None = None,
    priority: int | None = None,
    headers: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
    message_id: str | None = None,
) -> _Prepared:
    """Build and size-check the envelope for ``job`` (no I/O).

    ``message_id`` replaces the random id, for senders whose id must mean something
    (a schedule's tick: ``brokerjobs.schedules``).
    """
    if not isinstance(job, Job):
        raise DispatchError(f"dispatch() takes a Job instance, got {type(job).__name__}")
    cls = type(job)
    if not cls.job_name:
        raise DispatchError(f"{cls.__name__} is abstract (abstract=True) and cannot be dispatched")
    options = cls.job_options
    if queue is not None or max_attempts is not None or priority is not None:
        options = _overridden(options, queue, max_attempts, priority)
    now = utcnow()
    seconds = _delay_seconds(delay, eta, now)
    envelope = Envelope(
        id=message_id or new_message_id(),
        job=cls.job_name,
        queue=options.queue,
        payload=job.model_dump(mode="json"),
        max_attempts=options.max_attempts,
        created_at=now,
        not_before=now + timedelta(seconds=seconds) if seconds else None,
        headers=telemetry.outgoing_headers(_with_guards(job, options, headers, idempotency_key)),
    )
    body = encode(envelope)
    limit = min(config.settings().max_message_size, backend.max_message_size)
    if len(body) > limit:
        raise PayloadTooLargeError(len(body), limit, what=f"{cls.job_name} message")
    message = OutgoingMessage(
        body=body, message_id=envelope.id, delay=seconds, priority=options.priority
    )
    return _Prepared(options.queue, message, envelope)


def _with_guards(
    job: Job, options: JobOptions, headers: Mapping[str, str] | None, idempotency: str | None
) -> Mapping[str, str] | None:
    if not options.guards and idempotency is None:
        return headers
    from brokerjobs.guards.keys import guard_headers

    return {**guard_headers(job, idempotency), **(headers or {})}


def _backoffs() -> Iterator[float]:
    settings = config.settings()
    wait = settings.dispatch_retry_backoff
    for _ in range(settings.dispatch_retries):
        yield wait
        wait *= 2


def dispatch(
    job: Job,
    *,
    backend: str | Backend | None = None,
    queue: str | None = None,
    delay: Delay | None = None,
    eta: datetime | None = None,
    max_attempts: int | None = None,
    priority: int | None = None,
    headers: Mapping[str, str] | None = None,
    connection: Any = None,
    idempotency_key: str | None = None,
) -> DispatchResult:
    """Send ``job`` to its queue and return the message id, once the broker accepted it.

    ``delay`` (seconds or timedelta) or ``eta`` (aware datetime) postpone the first run.
    Transient broker errors are retried a few times with the same message id (so the job
    may, rarely, run twice) before :class:`BrokerUnavailableError` is raised.

    ``connection`` (SQL backends only) enqueues through your own open database connection,
    inside your transaction: the job exists only if you commit (transactional outbox).

    The id returned is a :class:`~brokerjobs.guards.DispatchResult` (a ``str``): for a
    unique job (``unique_for``) whose equal is already queued, nothing is sent and it is
    that job's id with ``.duplicate`` True. ``idempotency_key`` makes the worker run the
    job at most once to completion per key (see docs/coordination.md).
    """
    target = get_backend(backend)
    _check_publish_in(target, connection)
    overrides = _overrides(queue, delay, eta, max_attempts, priority, headers)
    store = _guard_store(job, target, idempotency_key)
    with telemetry.producer_span() as span:
        item = _prepare_traced(span, job, target, {**overrides, "idempotency_key": idempotency_key})
        lock = None if store is None else guarded.unique_lock(item.envelope, job)
        if store is not None and lock is not None:
            existing = guarded.take_sync(store, lock, item.envelope.id)
            if existing is not None:
                return guarded.duplicate(item.envelope.job, existing)
        try:
            with _dispatch_errors():
                if connection is not None:
                    _publish_in(target, connection, item.queue, [item.message])
                else:
                    _with_retries(lambda: target.publish_sync(item.queue, item.message))
        except BaseException:
            if store is not None and lock is not None:
                unique.give_back_sync(store, lock[0], item.envelope.id)
            raise
    return DispatchResult(item.envelope.id)


async def dispatch_async(
    job: Job,
    *,
    backend: str | Backend | None = None,
    queue: str | None = None,
    delay: Delay | None = None,
    eta: datetime | None = None,
    max_attempts: int | None = None,
    priority: int | None = None,
    headers: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
) -> DispatchResult:
    """Async twin of :func:`dispatch`."""
    target = get_backend(backend)
    overrides = _overrides(queue, delay, eta, max_attempts, priority, headers)
    store = _guard_store(job, target, idempotency_key)
    with telemetry.producer_span() as span:
        item = _prepare_traced(span, job, target, {**overrides, "idempotency_key": idempotency_key})
        lock = None if store is None else guarded.unique_lock(item.envelope, job)
        if store is not None and lock is not None:
            existing = await guarded.take(store, lock, item.envelope.id)
            if existing is not None:
                return guarded.duplicate(item.envelope.job, existing)
        try:
            with _dispatch_errors():
                await _with_retries_async(lambda: target.publish(item.queue, item.message))
        except BaseException:
            if store is not None and lock is not None:
                await unique.give_back(store, lock[0], item.envelope.id)
            raise
    return DispatchResult(item.envelope.id)


def _guard_store(job: Job, target: Backend, idempotency_key: str | None) -> Store | None:
    """The store the job's guards need (checked now: a missing store fails the dispatch)."""
    if not isinstance(job, Job) or not guarded.needs_store(job, idempotency_key):
        return None
    return guarded.store_for(type(job), target, idempotency_key)


def _overrides(
    queue: str | None,
    delay: Delay | None,
    eta: datetime | None,
    max_attempts: int | None,
    priority: int | None,
    headers: Mapping[str, str] | None,
) -> dict[str, Any]:
    return {
        "queue": queue, "delay": delay, "eta": eta,
        "max_attempts": max_attempts, "priority": priority, "headers": headers,
    }  # fmt: skip


def _prepare_traced(span: Any, job: Job, target: Backend, overrides: dict[str, Any]) -> _Prepared:
    item = prepare(job, target, **overrides)
    telemetry.describe_send(span, [item.envelope], item.message.body, backend=target.name)
    return item


@contextmanager
def _dispatch_errors() -> Iterator[None]:
    """Let only :class:`DispatchError` out: any other brokerjobs error is wrapped in one."""
    try:
        yield
    except DispatchError:
        raise
    except BrokerJobsError as exc:
        raise DispatchError(str(exc)) from exc


def _with_retries(publish: Callable[[], None]) -> None:
    """Run ``publish``, retrying transient broker errors with backoff, then re-raising.

    A timeout is not retried: the caller has already waited the backend's whole timeout.
    """
    waits: Iterator[float] | None = None  # made on the first failure: most publishes succeed
    while True:
        try:
            return publish()
        except BrokerTimeoutError:
            raise
        except BrokerUnavailableError:
            waits = waits or _backoffs()
            wait = next(waits, None)
            if wait is None:
                raise
            time.sleep(wait)


async def _with_retries_async(publish: Callable[[], Awaitable[None]]) -> None:
    """Async twin of :func:`_with_retries`."""
    waits: Iterator[float] | None = None
    while True:
        try:
            return await publish()
        except BrokerTimeoutError:
            raise
        except BrokerUnavailableError:
            waits = waits or _backoffs()
            wait = next(waits, None)
            if wait is None:
                raise
            import asyncio  # late: a service that only dispatches synchronously never needs it

            await asyncio.sleep(wait)


def _check_publish_in(target: Backend, connection: Any) -> None:
    """A ``connection=`` the backend cannot use is a mistake in the call (before sending)."""
    if connection is not None and getattr(target, "publish_in", None) is None:
        raise ConfigurationError(
            f"backend {target.name!r} cannot enqueue inside your database transaction; "
            "connection= works with the SQL backends (sqlite, postgres, mysql) only"
        )


def _publish_in(
    target: Backend, connection: Any, queue: str, messages: list[OutgoingMessage]
) -> None:
    # No retries here: the caller's transaction decides whether the job exists.
    target.publish_in(connection, queue, messages)  # type: ignore[attr-defined]


def _group(
    jobs: Iterable[Job], backend: Backend, queue: str | None, delay: Delay | None
) -> tuple[list[Envelope], dict[str, list[OutgoingMessage]]]:
    envelopes: list[Envelope] = []
    by_queue: dict[str, list[OutgoingMessage]] = defaultdict(list)
    checked: set[type[Job]] = set()
    for job in jobs:
        cls = type(job)
        if cls not in checked and isinstance(job, Job):
            checked.add(cls)
            if cls.job_options.unique_for is not None:
                raise DispatchError(
                    f"{cls.job_name} is unique (unique_for): dispatch it with dispatch(), "
                    "which can tell a duplicate; dispatch_many() cannot"
                )
            _guard_store(job, backend, None)
        item = prepare(job, backend, queue=queue, delay=delay)
        envelopes.append(item.envelope)
        by_queue[item.queue].append(item.message)
    return envelopes, by_queue


def dispatch_many(
    jobs: Iterable[Job],
    *,
    backend: str | Backend | None = None,
    queue: str | None = None,
    delay: Delay | None = None,
    connection: Any = None,
) -> list[str]:
    """Dispatch many jobs with the backend's batch publish; returns ids in input order.

    Every job is validated and size-checked before anything is sent. On a broker error
    some may have been sent already; dispatching the same jobs again is safe only for
    idempotent jobs. ``connection``: as for :func:`dispatch`.
    """
    target = get_backend(backend)
    _check_publish_in(target, connection)
    with telemetry.producer_span() as span:
        envelopes, by_queue = _group(jobs, target, queue, delay)
        telemetry.describe_send(span, envelopes, backend=target.name)
        with _dispatch_errors():
            for name, messages in by_queue.items():
                if connection is not None:
                    _publish_in(target, connection, name, messages)
                else:
                    target.publish_batch_sync(name, messages)
    return [envelope.id for envelope in envelopes]


async def dispatch_many_async(
    jobs: Iterable[Job],
    *,
    backend: str | Backend | None = None,
    queue: str | None = None,
    delay: Delay | None = None,
) -> list[str]:
    """Async twin of :func:`dispatch_many`."""
    target = get_backend(backend)
    with telemetry.producer_span() as span:
        envelopes, by_queue = _group(jobs, target, queue, delay)
        telemetry.describe_send(span, envelopes, backend=target.name)
        with _dispatch_errors():
            for name, messages in by_queue.items():
                await target.publish_batch(name, messages)
    return [envelope.id for envelope in envelopes]


__all__: Sequence[str] = ["dispatch", "dispatch_async", "dispatch_many", "dispatch_many_async"]
