"""Handling one delivery: decode, look up, validate, run, decide, settle, report.

The worker never dies on a bad message: whatever a body contains, it ends acked, retried
or dead-lettered with a reason (or, when the broker connection is gone, left for the
broker to redeliver).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Protocol

from pydantic import ValidationError

from brokerjobs.backend import Backend, Defers, Delivery
from brokerjobs.envelope import Envelope, decode
from brokerjobs.errors import DeliveryLostError, EnvelopeError, UnknownJobError
from brokerjobs.job import Job, JobContext, JobRegistry
from brokerjobs.telemetry.redact import redact, sensitive_values
from brokerjobs.worker.execution import JobRunner
from brokerjobs.worker.hooks import Hooks, JobEvent, Middleware, chain
from brokerjobs.worker.outcome import ACK, Decision, Settle, decide, error_summary

log = logging.getLogger("brokerjobs.worker")
job_log = logging.getLogger("brokerjobs.job")


class Claim(Protocol):
    """The worker's hold on one delivery."""

    def still_ours(self) -> bool:
        """False once the delivery's subscription or lease was lost."""

    def letting_go(self) -> None:
        """The delivery is being settled: stop extending its lease."""


class Processor:
    """Turns deliveries into settled outcomes; shared by every job of one worker."""

    def __init__(
        self,
        backend: Backend,
        runner: JobRunner,
        registry: JobRegistry,
        hooks: Hooks,
        middleware: Sequence[Middleware],
        max_size: int,
    ) -> None:
        self._backend = backend
        self._runner = runner
        self._registry = registry
        self._hooks = hooks
        self._middleware = list(middleware)
        self._max_size = max_size

    async def handle(self, delivery: Delivery, claim: Claim) -> JobEvent:
        """Process ``delivery`` to the end; returns what happened (``event.outcome``)."""
        event = JobEvent(delivery)
        try:
            envelope = decode(delivery.body, max_size=self._max_size)
        except EnvelopeError as exc:
            await self._reject(event, str(exc), claim)
            return event
        event.envelope = envelope
        try:
            cls = self._registry.get(envelope.job)
        except UnknownJobError as exc:
            await self._reject(event, str(exc), claim)
            return event
        if delivery.attempt > envelope.max_attempts:
            reason = (
                f"poison message: delivered {delivery.attempt} times but max_attempts is "
                f"{envelope.max_attempts}; the earlier deliveries ended without a result "
                "(the worker was killed or crashed, or lost its connection, mid-job)"
            )
            await self._reject(event, reason, claim)
            return event
        try:
            job = cls.model_validate(envelope.payload)
        except Exception as exc:  # a validator may raise anything, not only ValidationError
            why = _summary(exc) if isinstance(exc, ValidationError) else error_summary(exc)
            reason = f"payload no longer validates against {cls.job_name}: {why}"
            await self._reject(event, reason, claim)
            return event
        event.job = job
        event.context = _context(delivery, envelope)
        event.settle = partial(self._settle, event, claim=claim)
        inner = partial(self._run, event, job, claim)
        if not self._middleware:
            await inner()
            return event
        try:
            await chain(self._middleware, event, inner)()
        except Exception as exc:
            if event.outcome is not None:
                log.exception("middleware failed after message %s was settled", event.message_id)
            else:
                await self._fail(event, job, exc, claim)
        return event

    async def _run(self, event: JobEvent, job: Job, claim: Claim) -> None:
        if self._hooks.has("before"):
            await self._hooks.emit("before", event)
        assert event.context is not None
        started = time.perf_counter()
        try:
            await self._runner.run(job, event.context, type(job).job_options.time_limit)
        except Exception as exc:
            event.duration = time.perf_counter() - started
            await self._fail(event, job, exc, claim)
            return
        event.duration = time.perf_counter() - started
        for step in event.before_ack:
            try:
                await step()
            except Exception:
                log.exception("before-ack step failed for message %s", event.message_id)
        await self._settle(event, ACK, claim)

    async def _fail(self, event: JobEvent, job: Job, exc: Exception, claim: Claim) -> None:
        event.error = exc
        if self._hooks.has("on_failure"):
            await self._hooks.emit("on_failure", event)
        assert event.envelope is not None
        decision = decide(exc, type(job).job_options, event.attempt, event.envelope.max_attempts)
        secrets = sensitive_values(job)
        if secrets:  # the reason is stored in the DLQ and shown by `brokerjobs dlq`
            decision = dataclasses.replace(decision, reason=redact(decision.reason, secrets))
        await self._settle(event, decision, claim)

    async def _reject(self, event: JobEvent, reason: str, claim: Claim) -> None:
        log.warning("dead-lettering message %s at once: %s", event.message_id, reason)
        await self._settle(event, Decision(Settle.DEAD_LETTER, reason=reason), claim)

    async def _settle(self, event: JobEvent, decision: Decision, claim: Claim) -> None:
        if event.outcome is not None:
            return  # settled already (by a middleware's event.settle)
        delivery = event.delivery
        claim.letting_go()
        if not claim.still_ours():
            event.outcome = "lost"
            log.warning(
                "not settling message %s: its subscription or lease was lost while it ran; "
                "the broker redelivers it",
                delivery.message_id,
            )
            return
        try:
            if decision.settle is Settle.ACK:
                await self._backend.ack(delivery)
            elif decision.settle is Settle.RETRY:
                await self._backend.retry(delivery, delay=decision.delay, reason=decision.reason)
            elif decision.settle is Settle.DEFER:
                await defer(self._backend, delivery, decision.delay, decision.reason)
            else:
                await self._backend.dead_letter(delivery, reason=decision.reason)
        except Exception as exc:
            # DeliveryLostError: someone else owns it now. Anything else (connection gone
            # mid-settle): it stays unsettled and comes back. Never settle it again here.
            event.outcome = "lost"
            level = logging.WARNING if isinstance(exc, DeliveryLostError) else logging.ERROR
            log.log(
                level,
                "could not %s message %s (%s: %s); the broker redelivers it",
                decision.settle.value.replace("_", "-"),
                delivery.message_id,
                type(exc).__name__,
                exc,
            )
            return
        event.reason = decision.reason or None
        if decision.settle is Settle.ACK:
            event.outcome = "ack"
            if self._hooks.has("after"):
                await self._hooks.emit("after", event)
        elif decision.settle is Settle.DEFER:
            event.outcome = "deferred"
            event.retry_delay = decision.delay
        elif decision.settle is Settle.RETRY:
            event.outcome = "retry"
            event.retry_delay = decision.delay
            if self._hooks.has("on_retry"):
                await self._hooks.emit("on_retry", event)
        else:
            event.outcome = "dead_letter"
            if self._hooks.has("on_dead_letter"):
                await self._hooks.emit("on_dead_letter", event)


async def defer(backend: Backend, delivery: Delivery, delay: float, reason: str) -> None:
    """Put ``delivery`` back for ``delay`` s: attempt kept where the backend ``Defers``.

    Elsewhere it is a retry, which counts an attempt.
    """
    if isinstance(backend, Defers):
        await backend.defer(delivery, delay=delay)
    else:
        await backend.retry(delivery, delay=delay, reason=reason)


def _context(delivery: Delivery, envelope: Envelope) -> JobContext:
    adapter = logging.LoggerAdapter(
        job_log, {"message_id": envelope.id, "job": envelope.job, "attempt": delivery.attempt}
    )
    return JobContext(
        message_id=envelope.id,
        job_name=envelope.job,
        queue=delivery.queue,
        attempt=delivery.attempt,
        max_attempts=envelope.max_attempts,
        enqueued_at=envelope.created_at,
        headers=envelope.headers,
        logger=adapter,
    )


def _summary(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "payload"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
