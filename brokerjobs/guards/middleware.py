"""The worker side of the guards: one middleware around every job that has one.

In order, for a delivery of a guarded job:

1. ``unique_until="queued"``: release the uniqueness lock (the job left the queue).
2. Idempotency key: a completed record acks the delivery without running it; a running
   one (another delivery of the key is being run) defers it; a record of another payload
   dead-letters it. Otherwise the key is claimed as running, renewed while the job runs.
3. Concurrency limit: take a slot (renewed while the job runs), else defer.
4. Rate limit: count the run in the window, else defer until the window ends.
5. ``unique_until="started"``: release the lock; run; on success mark the key done
   *before* the ack; ``"finished"``: release the lock once acked or dead-lettered.

A deferred delivery comes back after a delay computed from the limit, and is not charged
an attempt on backends that can defer (:class:`brokerjobs.backend.Defers`).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Sequence

from brokerjobs.backend import Backend
from brokerjobs.errors import StoreError
from brokerjobs.guards import keys, unique
from brokerjobs.guards.backlog import Backlog
from brokerjobs.guards.records import Record, kept_alive
from brokerjobs.guards.signals import log, mark
from brokerjobs.job import Job
from brokerjobs.options import JobOptions
from brokerjobs.store import Store
from brokerjobs.worker.hooks import CallNext, JobEvent
from brokerjobs.worker.outcome import ACK, Decision, Settle

BUSY_DELAY = 2.0
"""Seconds (jittered) before a delivery whose key another delivery is running comes back."""


class GuardMiddleware:
    """Runs the guards of each job on ``store``; ``lease`` is the ttl of what a run holds."""

    def __init__(
        self, store: Store | None, *, lease: float = 30.0, backend: Backend | None = None
    ) -> None:
        self._store = store
        self._backend = backend
        self.lease = lease
        self._backlog = Backlog()
        self._durations: dict[str, float] = {}
        """Recent mean run time per job name: how long a concurrency slot stays taken."""

    async def __call__(self, event: JobEvent, call_next: CallNext) -> None:
        job, envelope = event.job, event.envelope
        if job is None or envelope is None:
            await call_next()
            return
        options = type(job).job_options
        idempotency = envelope.headers.get(keys.IDEMPOTENCY_HEADER)
        lock = envelope.headers.get(keys.UNIQUE_HEADER)
        if not (idempotency or lock or options.rate_limit or options.concurrency_limit):
            await call_next()
            return
        if self._store is None:
            from brokerjobs.guards.dispatching import store_for

            self._store = store_for(type(job), self._backend, idempotency)
        if lock and options.unique_until == "queued":
            await unique.give_back(self.store, lock, envelope.id)
        key = keys.idempotency_store_key(envelope.job, idempotency) if idempotency else ""
        async with contextlib.AsyncExitStack() as held:
            record = await self._claim_key(event, key, idempotency) if idempotency else None
            if event.outcome is not None:
                return  # acked as done, deferred as busy or dead-lettered as a conflict
            if record is not None:
                mine = record.encode()
                held.push_async_callback(self._drop_unless_acked, event, key, mine)
                await held.enter_async_context(kept_alive(self.store, key, mine, self.lease))
            if not await self._within_limits(event, job, options, held):
                return
            if lock and options.unique_until == "started":
                await unique.give_back(self.store, lock, envelope.id)
            if record is not None:
                event.before_ack.append(lambda: self._complete(key, record, options))
            started = time.monotonic()
            try:
                await call_next()
            finally:
                self._observe(envelope.job, time.monotonic() - started)
                finished = event.outcome in ("ack", "dead_letter")
                if lock and options.unique_until == "finished" and finished:
                    await unique.give_back(self.store, lock, envelope.id)

    async def _drop_unless_acked(self, event: JobEvent, key: str, mine: bytes) -> None:
        # Not completed (failed, deferred, lost): let the next delivery claim the key.
        if event.outcome != "ack":
            await self.store.compare_and_delete(key, mine)

    @property
    def store(self) -> Store:
        """The store the guards use (resolved at the latest by the first guarded job)."""
        assert self._store is not None, "no guarded job seen yet"
        return self._store

    # -- idempotency ------------------------------------------------------------------------
    async def _claim_key(self, event: JobEvent, key: str, idempotency: str) -> Record | None:
        assert event.envelope is not None and event.settle is not None
        name = event.envelope.job
        payload = keys.digest(event.envelope.payload)
        mine = Record.running(payload, event.message_id)
        for _ in range(5):
            if await self.store.set_if_absent(key, mine.encode(), ttl=self.lease):
                return mine
            raw = await self.store.get(key)
            if raw is None:
                continue  # completed record expired, or a crashed run's claim: try again
            found = Record.decode(raw)
            if found.payload != payload:
                reason = (
                    f"idempotency key {idempotency!r} was already used by message "
                    f"{found.message_id} with a different payload; a key names one job"
                )
                mark("key_conflict", "dead-lettered: idempotency key reused", name)
                await event.settle(Decision(Settle.DEAD_LETTER, reason=reason))
                return None
            if found.state == "done":
                log.info(
                    "message %s: idempotency key %r already completed by message %s; "
                    "acked without running", event.message_id, idempotency, found.message_id,
                )  # fmt: skip
                mark("skipped_completed", "skipped: already completed", name)
                await event.settle(ACK)
                return None
            delay = _jitter(BUSY_DELAY)
            mark("key_busy", "delayed: idempotency key in progress", name)
            await event.settle(Decision(Settle.DEFER, delay=delay, reason="key in progress"))
            return None
        raise StoreError(f"the record of idempotency key {key!r} kept changing; is it shared?")

    async def _complete(self, key: str, record: Record, options: JobOptions) -> None:
        done = record.done().encode()
        if not await self.store.compare_and_set(
            key, record.encode(), done, ttl=options.idempotency_ttl
        ):
            log.warning(
                "idempotency record %s was no longer ours when message %s completed "
                "(it expired while the job ran: the lease was too short?)",
                key, record.message_id,
            )  # fmt: skip

    # -- limits -----------------------------------------------------------------------------
    async def _within_limits(
        self, event: JobEvent, job: Job, options: JobOptions, held: contextlib.AsyncExitStack
    ) -> bool:
        assert event.envelope is not None and event.settle is not None
        name = event.envelope.job
        if options.concurrency_limit is not None:
            key = keys.limit_key("conc", job)
            holder = f"{event.message_id}:{random.getrandbits(64):x}".encode()
            slot = await self.store.acquire_slot(
                key, holder, limit=options.concurrency_limit, ttl=self.lease
            )
            if slot is None:
                run_time = max(0.05, self._durations.get(name, 1.0))
                limit = options.concurrency_limit
                delay = self._backlog.delay(key, first=0.0, period=run_time, limit=limit)
                mark("concurrency_limited", "delayed: concurrency limit", name)
                reason = f"concurrency limit of {options.concurrency_limit} reached"
                await event.settle(Decision(Settle.DEFER, delay=delay, reason=reason))
                return False
            held.push_async_callback(self.store.compare_and_delete, slot, holder)
            await held.enter_async_context(kept_alive(self.store, slot, holder, self.lease))
        if options.rate_limit is not None:
            count, per = options.rate_limit
            rate_key = keys.limit_key("rate", job)
            wait = await self.store.count_in_window(rate_key, limit=count, window=per)
            if wait > 0:
                # Past the window's end, and a window later per `count` already waiting.
                delay = self._backlog.delay(rate_key, first=wait, period=per, limit=count)
                mark("rate_limited", "delayed: rate limited", name)
                reason = f"rate limit of {count} per {per:g} s reached"
                await event.settle(Decision(Settle.DEFER, delay=delay, reason=reason))
                return False
        return True

    def _observe(self, name: str, seconds: float) -> None:
        previous = self._durations.get(name)
        self._durations[name] = seconds if previous is None else 0.8 * previous + 0.2 * seconds


def _jitter(seconds: float) -> float:
    """``seconds`` times a random factor between 0.5 and 1.5, kept within 0.1 to 60 s."""
    return min(60.0, max(0.1, seconds * random.uniform(0.5, 1.5)))


def worker_guards(
    job_classes: Sequence[type[Job]], backend: Backend, lease: float
) -> GuardMiddleware:
    """The guard middleware of a worker whose queues carry ``job_classes``.

    When one of them has guards the store is resolved now, so a missing store fails the
    worker's start (:class:`~brokerjobs.errors.StoreNotConfiguredError`); otherwise it is
    resolved on the first delivery that carries an idempotency key.
    """
    from brokerjobs.guards.dispatching import store_for

    guarded = [cls for cls in job_classes if cls.job_options.guards]
    store = store_for(guarded[0], backend) if guarded else None
    return GuardMiddleware(store, lease=lease, backend=backend)
