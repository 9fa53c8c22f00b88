"""Lifecycle hooks and the middleware chain around each job.

Hooks observe: ``before`` a job runs, ``after`` it succeeded, ``on_failure`` when an
attempt raised, ``on_retry`` when the message was scheduled again, ``on_dead_letter``
when it was parked (including messages that never reached a job: garbage bodies,
unknown names, invalid payloads, poison). A hook that raises is logged and ignored.

Middleware wraps the whole handling of a decoded job (hooks, run, settle)::

    async def timing(event: JobEvent, call_next: CallNext) -> None:
        started = time.perf_counter()
        await call_next()
        print(event.job_name, event.outcome, time.perf_counter() - started)

When ``call_next`` returns, ``event.outcome`` and ``event.error`` are set; the job's
exception never propagates through middleware (the worker has settled it already).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

from brokerjobs.backend import Delivery
from brokerjobs.envelope import Envelope
from brokerjobs.job import Job, JobContext
from brokerjobs.worker.outcome import Decision

log = logging.getLogger("brokerjobs.worker")

Outcome = Literal["ack", "retry", "dead_letter", "lost", "deferred"]
"""``lost``: the delivery could not be settled (connection or lease gone); it is redelivered.
``deferred``: put back unrun for later, no attempt counted (a rate or concurrency limit)."""


@dataclass(slots=True, eq=False)
class JobEvent:
    """One delivery as it goes through the worker; hooks and middleware read it."""

    delivery: Delivery
    envelope: Envelope | None = None
    job: Job | None = None
    context: JobContext | None = None
    outcome: Outcome | None = None
    error: BaseException | None = None
    """The exception the attempt raised, if any."""
    duration: float | None = None
    """Seconds the job's ``run`` took (None when it never ran)."""
    retry_delay: float | None = None
    reason: str | None = None
    """Why the message was retried or dead-lettered."""
    extra: dict[str, object] = field(default_factory=dict)
    """Free space for middleware (a span, a timer...)."""
    settle: Callable[[Decision], Awaitable[None]] | None = None
    """Settles the delivery without running the job (set by the worker for middleware that
    decides not to run it: a duplicate, a job over its limit). Sets ``outcome``."""
    before_ack: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Steps run after the job succeeded and before its ack (an idempotency record)."""

    @property
    def message_id(self) -> str:
        return self.delivery.message_id

    @property
    def queue(self) -> str:
        return self.delivery.queue

    @property
    def attempt(self) -> int:
        return self.delivery.attempt

    @property
    def job_name(self) -> str | None:
        """The envelope's job name, or None when the body was not an envelope."""
        return self.envelope.job if self.envelope is not None else None

    @property
    def max_attempts(self) -> int | None:
        return self.envelope.max_attempts if self.envelope is not None else None


Hook = Callable[[JobEvent], Awaitable[None] | None]
CallNext = Callable[[], Awaitable[None]]
Middleware = Callable[[JobEvent, CallNext], Awaitable[None]]
HookName = Literal["before", "after", "on_failure", "on_retry", "on_dead_letter"]


class Hooks:
    """Callbacks run at each step of a job's life; sync or async functions.

    Register with the decorators::

        hooks = Hooks()

        @hooks.on_dead_letter
        def alert(event: JobEvent) -> None: ...
    """

    def __init__(self) -> None:
        self._hooks: dict[HookName, list[Hook]] = {
            "before": [],
            "after": [],
            "on_failure": [],
            "on_retry": [],
            "on_dead_letter": [],
        }

    def before(self, hook: Hook) -> Hook:
        """Run ``hook`` just before a job's ``run``."""
        return self._add("before", hook)

    def after(self, hook: Hook) -> Hook:
        """Run ``hook`` after a job succeeded (and was acked)."""
        return self._add("after", hook)

    def on_failure(self, hook: Hook) -> Hook:
        """Run ``hook`` when an attempt raised (``event.error``), before it is settled."""
        return self._add("on_failure", hook)

    def on_retry(self, hook: Hook) -> Hook:
        """Run ``hook`` once the message was scheduled again (``event.retry_delay``)."""
        return self._add("on_retry", hook)

    def on_dead_letter(self, hook: Hook) -> Hook:
        """Run ``hook`` once the message was dead-lettered (``event.reason``)."""
        return self._add("on_dead_letter", hook)

    def _add(self, name: HookName, hook: Hook) -> Hook:
        self._hooks[name].append(hook)
        return hook

    def extend(self, other: Hooks) -> None:
        """Add every hook of ``other`` after this one's."""
        for name, hooks in other._hooks.items():
            self._hooks[name].extend(hooks)

    def has(self, name: HookName) -> bool:
        return bool(self._hooks[name])

    async def emit(self, name: HookName, event: JobEvent) -> None:
        """Call every ``name`` hook in registration order; errors are logged, not raised."""
        for hook in self._hooks[name]:
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("%s hook %r failed for message %s", name, hook, event.message_id)


def chain(middleware: Sequence[Middleware], event: JobEvent, inner: CallNext) -> CallNext:
    """``inner`` wrapped by ``middleware`` (the first one is the outermost)."""
    handler = inner
    for layer in reversed(middleware):
        handler = partial(layer, event, handler)
    return handler
