"""The worker: fetches deliveries, runs jobs with bounded concurrency, shuts down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from brokerjobs import config
from brokerjobs.backend import Backend, Delivery
from brokerjobs.discovery import get_backend
from brokerjobs.errors import ConfigurationError
from brokerjobs.job import JobRegistry
from brokerjobs.job import registry as default_registry
from brokerjobs.options import DEFAULT_QUEUE
from brokerjobs.worker.claims import RunningClaim
from brokerjobs.worker.execution import JobRunner
from brokerjobs.worker.hooks import Hooks, Middleware
from brokerjobs.worker.intake import Feed, Intake, Reconnect
from brokerjobs.worker.leases import Heartbeat
from brokerjobs.worker.limits import Limits
from brokerjobs.worker.processing import Processor
from brokerjobs.worker.startup import check_time_limits, declare_queues

log = logging.getLogger("brokerjobs.worker")

DEFAULT_LEASE = 30.0
IDLE_POLL = 0.05
BURST_POLL = 0.2
"""Seconds between the two empty looks at the queues that end a burst."""


class Worker:
    """Consumes ``queues`` (highest priority first) and runs their jobs.

    ``concurrency`` bounds jobs in flight (sync jobs get that many threads); ``prefetch``
    is how many deliveries each queue may hold fetched but not started (default:
    ``concurrency``). ``prefetch=0`` holds nothing beyond the running jobs: each queue's
    broker window is ``concurrency``, so for long jobs every waiting message stays
    available to other workers. ``lease`` is the seconds each heartbeat asks the broker
    to keep a held delivery (default: the backend's ``lease`` attribute if it has one,
    else 30 s); the heartbeat runs every third of it. ``stop_when_idle`` ends :meth:`run`
    once the queues have nothing ready (used by ``brokerjobs.testing.drain``).

    ``burst`` ends :meth:`run` once nothing is running or fetched and every queue shows
    nothing ready twice in a row: delayed messages and retries waiting for their backoff
    do not keep it running. ``limits`` retires the worker after a number of jobs, a time
    or a memory size (see :mod:`~brokerjobs.worker.limits`); :attr:`retired` then says why.
    """

    def __init__(
        self,
        backend: Backend | str | None = None,
        queues: Sequence[str] = (DEFAULT_QUEUE,),
        *,
        concurrency: int = 10,
        prefetch: int | None = None,
        shutdown_timeout: float = 30.0,
        lease: float | None = None,
        hooks: Hooks | None = None,
        middleware: Sequence[Middleware] = (),
        registry: JobRegistry | None = None,
        stop_when_idle: bool = False,
        reconnect: Reconnect | None = None,
        priority_grace: float = 0.05,
        burst: bool = False,
        limits: Limits | None = None,
    ) -> None:
        if isinstance(queues, str):
            queues = [queues]
        if not queues or len(set(queues)) != len(queues):
            raise ConfigurationError(f"give one or more distinct queues, got {list(queues)}")
        if concurrency < 1:
            raise ConfigurationError(f"concurrency must be >= 1, got {concurrency}")
        if prefetch is not None and prefetch < 0:
            raise ConfigurationError(f"prefetch must be >= 0, got {prefetch}")
        if shutdown_timeout < 0:
            raise ConfigurationError(f"shutdown_timeout must be >= 0, got {shutdown_timeout}")
        self.backend = get_backend(backend)
        self.queues = list(queues)
        self.concurrency = concurrency
        self.prefetch = concurrency if prefetch is None else prefetch
        self.shutdown_timeout = shutdown_timeout
        backend_lease = getattr(self.backend, "lease", None)
        self.lease = lease or (float(backend_lease) if backend_lease else DEFAULT_LEASE)
        self.hooks = hooks or Hooks()
        self.middleware = list(middleware)
        self.registry = registry or default_registry
        self.stop_when_idle = stop_when_idle
        self.burst = burst
        self.limits = limits or Limits()
        self.retired: str | None = None
        """Why the worker stopped itself on reaching a limit (None: it did not)."""
        self._started = 0
        self._idle_seen = False
        self._asked_to_stop = False
        self._reconnect = reconnect
        self._priority_grace = priority_grace
        self._running: dict[asyncio.Task[object], Delivery] = {}
        self._lost: set[Delivery] = set()
        self._holding: set[Delivery] = set()
        """Running deliveries not yet being settled: the heartbeat extends these."""
        self._wake = asyncio.Event()
        self._stop_requested = False
        self._stop_now = asyncio.Event()
        self._intake: Intake | None = None
        self._past_losses = 0

    # -- control ---------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop gracefully; called a second time, stop now (see :meth:`stop_now`)."""
        if self._asked_to_stop:
            self.stop_now()
            return
        self._asked_to_stop = True
        log.info(
            "stopping: no new jobs; waiting up to %g s for %d running",
            self.shutdown_timeout,
            len(self._running),
        )
        self._stop_requested = True
        self._wake.set()

    def _retire(self, reason: str) -> None:
        """A limit was reached: stop as a first SIGTERM would (a later signal still counts)."""
        if self._stop_requested:
            return
        self.retired = reason
        log.info("retiring: %s; finishing %d running jobs", reason, len(self._running))
        self._stop_requested = True
        self._wake.set()

    def stop_now(self) -> None:
        """Stop at once: running jobs are abandoned unsettled and the broker redelivers them."""
        self._stop_requested = True
        self._stop_now.set()
        self._wake.set()

    def _stopped(self) -> bool:
        return self._stop_requested

    @property
    def running(self) -> int:
        """Jobs in flight."""
        return len(self._running)

    @property
    def subscription_losses(self) -> int:
        """Subscriptions lost (and reopened) so far; a healthy worker keeps this at 0."""
        intake = self._intake
        live = sum(feed.losses for feed in intake.feeds) if intake is not None else 0
        return self._past_losses + live

    @property
    def connected(self) -> bool:
        """Whether every queue has a live subscription (False before run and while reconnecting)."""
        intake = self._intake
        return intake is not None and all(feed.subscription is not None for feed in intake.feeds)

    # -- main loop -------------------------------------------------------------------
    async def run(self) -> bool:
        """Consume until a stop is requested (or idle, with ``stop_when_idle``).

        Returns True when every job it started was settled, False when some were left
        running at a forced stop (they are redelivered).
        """
        check_time_limits(self.backend, self.registry, self.queues)
        declared = await declare_queues(
            self.backend, self.queues, self._reconnect or Reconnect(), self._wake, self._stopped
        )
        if not declared:
            return True
        runner = JobRunner(self.concurrency)
        settings = config.settings()
        processor = Processor(
            self.backend,
            runner,
            self.registry,
            self.hooks,
            self.middleware,
            max(settings.max_message_size, self.backend.max_message_size),
        )
        intake = self._intake = Intake(
            self.backend,
            self.queues,
            # With prefetch 0 the broker window alone bounds what is held: a feed can only
            # fetch once a settled job has freed a slot of it.
            buffer_size=max(1, self.prefetch),
            backend_prefetch=self.concurrency + self.prefetch,
            on_change=self._wake.set,
            reconnect=self._reconnect,
            priority_grace=self._priority_grace,
        )
        heartbeat = Heartbeat(self.backend, self._held, self._on_lease_lost, lease=self.lease)
        intake.start()
        heartbeat.start()
        log.info("consuming %s (concurrency %d)", ", ".join(self.queues), self.concurrency)
        max_time = self.limits.max_time
        timer = None
        if max_time is not None:
            timer = asyncio.get_running_loop().call_later(
                max_time, self._retire, f"ran {max_time:g} s (max time)"
            )
        try:
            await self._schedule(intake, processor)
        finally:
            if timer is not None:
                timer.cancel()
            clean = await self._finish(intake, heartbeat, runner)
        return clean

    async def _schedule(self, intake: Intake, processor: Processor) -> None:
        while not self._stop_requested:
            self._wake.clear()
            if len(self._running) < self.concurrency:
                taken = intake.take()
                if isinstance(taken, tuple):
                    self._start(processor, *taken)
                    if reason := self.limits.jobs_reached(self._started):
                        self._retire(reason)
                    continue
                timeout = taken
            else:
                timeout = None
            if timeout is None and (self.stop_when_idle or self.burst):
                if await self._drained():
                    log.info("queues are %s; stopping", "drained" if self.burst else "idle")
                    return
                timeout = BURST_POLL if self.burst else IDLE_POLL
            if timeout is None:
                await self._wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)

    def _start(self, processor: Processor, delivery: Delivery, feed: Feed, generation: int) -> None:
        assert self._intake is not None
        claim = RunningClaim(delivery, self._intake, feed, generation, self._lost, self._holding)
        self._holding.add(delivery)
        self._started += 1
        self._idle_seen = False
        task: asyncio.Task[object] = asyncio.create_task(processor.handle(delivery, claim))
        self._running[task] = delivery
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[object]) -> None:
        delivery = self._running.pop(task, None)
        if delivery is not None:
            self._lost.discard(delivery)
            self._holding.discard(delivery)
        if not task.cancelled() and task.exception() is not None:
            log.error("message handling crashed", exc_info=task.exception())
        if reason := self.limits.memory_reached():
            self._retire(reason)
        self._wake.set()

    def _held(self) -> list[Delivery]:
        buffered = self._intake.buffered() if self._intake is not None else []
        running = [d for d in self._holding if d not in self._lost]
        return running + buffered

    def _on_lease_lost(self, delivery: Delivery, error: Exception) -> None:
        if self._intake is not None and self._intake.drop(delivery):
            log.warning(
                "lost the lease of buffered %s; not running it: %s", delivery.message_id, error
            )
        elif delivery in self._holding:
            log.warning(
                "lost the lease of running %s; it will not be settled: %s",
                delivery.message_id,
                error,
            )
            self._lost.add(delivery)
        # Otherwise it was settled while the heartbeat was extending it: nothing was lost.

    async def _drained(self) -> bool:
        """Whether to end the run: idle (``stop_when_idle``) or drained (``burst``)."""
        if self._running or (self._intake is not None and self._intake.buffered()):
            self._idle_seen = False
            return False
        for queue in self.queues:
            stats = await self.backend.stats(queue)
            # A burst ignores in-flight messages: other workers' jobs are theirs to finish.
            if stats.ready or (stats.in_flight and not self.burst):
                self._idle_seen = False
                return False
        if not self.burst:
            return True
        # A message may be on its way from the broker to a feed: look twice.
        seen, self._idle_seen = self._idle_seen, True
        return seen

    # -- shutdown --------------------------------------------------------------------
    async def _finish(self, intake: Intake, heartbeat: Heartbeat, runner: JobRunner) -> bool:
        await intake.stop()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.shutdown_timeout
        stop_now = asyncio.ensure_future(self._stop_now.wait())
        try:
            while self._running and not stop_now.done():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                await asyncio.wait(
                    {*self._running, stop_now},
                    timeout=remaining,
                    return_when=asyncio.FIRST_COMPLETED,
                )
        finally:
            stop_now.cancel()
        pending = set(self._running)
        if pending:
            log.warning(
                "stopping with %d jobs unfinished; they are left unsettled and the "
                "broker redelivers them",
                len(pending),
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await heartbeat.stop()
        runner.shutdown()
        self._past_losses += sum(feed.losses for feed in intake.feeds)
        self._intake = None
        return not pending
