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
from brokerjobs.worker.execution import JobRunner
from brokerjobs.worker.hooks import Hooks, Middleware
from brokerjobs.worker.intake import Feed, Intake, Reconnect
from brokerjobs.worker.leases import Heartbeat
from brokerjobs.worker.processing import Processor
from brokerjobs.worker.startup import check_time_limits, declare_queues

log = logging.getLogger("brokerjobs.worker")

DEFAULT_LEASE = 30.0
IDLE_POLL = 0.05


class Worker:
    """Consumes ``queues`` (highest priority first) and runs their jobs.

    ``concurrency`` bounds jobs in flight (sync jobs get that many threads); ``prefetch``
    is how many deliveries each queue may hold fetched but not started (default:
    ``concurrency``; use 1 for long jobs so waiting messages stay available to other
    workers). ``lease`` is the seconds each heartbeat asks the broker to keep a held
    delivery (default: the backend's ``lease`` attribute if it has one, else 30 s); the
    heartbeat runs every third of it. ``stop_when_idle`` ends :meth:`run` once the
    queues have nothing ready (used by ``brokerjobs.testing.drain``).
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
    ) -> None:
        if isinstance(queues, str):
            queues = [queues]
        if not queues or len(set(queues)) != len(queues):
            raise ConfigurationError(f"give one or more distinct queues, got {list(queues)}")
        if concurrency < 1:
            raise ConfigurationError(f"concurrency must be >= 1, got {concurrency}")
        if prefetch is not None and prefetch < 1:
            raise ConfigurationError(f"prefetch must be >= 1, got {prefetch}")
        if shutdown_timeout < 0:
            raise ConfigurationError(f"shutdown_timeout must be >= 0, got {shutdown_timeout}")
        self.backend = get_backend(backend)
        self.queues = list(queues)
        self.concurrency = concurrency
        self.prefetch = prefetch or concurrency
        self.shutdown_timeout = shutdown_timeout
        backend_lease = getattr(self.backend, "lease", None)
        self.lease = lease or (float(backend_lease) if backend_lease else DEFAULT_LEASE)
        self.hooks = hooks or Hooks()
        self.middleware = list(middleware)
        self.registry = registry or default_registry
        self.stop_when_idle = stop_when_idle
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

    # -- control ---------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop gracefully; called a second time, stop now (see :meth:`stop_now`)."""
        if self._stop_requested:
            self.stop_now()
            return
        log.info(
            "stopping: no new jobs; waiting up to %g s for %d running",
            self.shutdown_timeout,
            len(self._running),
        )
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
            buffer_size=self.prefetch,
            backend_prefetch=self.concurrency + self.prefetch,
            on_change=self._wake.set,
            reconnect=self._reconnect,
            priority_grace=self._priority_grace,
        )
        heartbeat = Heartbeat(self.backend, self._held, self._on_lease_lost, lease=self.lease)
        intake.start()
        heartbeat.start()
        log.info("consuming %s (concurrency %d)", ", ".join(self.queues), self.concurrency)
        try:
            await self._schedule(intake, processor)
        finally:
            clean = await self._finish(intake, heartbeat, runner)
        return clean

    async def _schedule(self, intake: Intake, processor: Processor) -> None:
        while not self._stop_requested:
            self._wake.clear()
            if len(self._running) < self.concurrency:
                taken = intake.take()
                if isinstance(taken, tuple):
                    self._start(processor, *taken)
                    continue
                timeout = taken
            else:
                timeout = None
            if timeout is None and self.stop_when_idle:
                if not self._running and await self._broker_idle():
                    log.info("queues are idle; stopping")
                    return
                timeout = IDLE_POLL
            if timeout is None:
                await self._wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)

    def _start(self, processor: Processor, delivery: Delivery, feed: Feed, generation: int) -> None:
        assert self._intake is not None
        claim = _Claim(self, delivery, self._intake, feed, generation)
        self._holding.add(delivery)
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

    async def _broker_idle(self) -> bool:
        if self._intake is not None and self._intake.buffered():
            return False
        for queue in self.queues:
            stats = await self.backend.stats(queue)
            if stats.ready or stats.in_flight:
                return False
        return True

    # -- shutdown --------------------------------------------------------------------
    async def _finish(self, intake: Intake, heartbeat: Heartbeat, runner: JobRunner) -> bool:
        loop = asyncio.get_running_loop()
        stop_now = asyncio.ensure_future(self._stop_now.wait())
        # Stopping the subscriptions can take a while (an SQS long poll ends only after
        # wait_time): a second signal must not wait for it, nor let running jobs finish.
        stopping = asyncio.ensure_future(intake.stop())
        await asyncio.wait({stopping, stop_now}, return_when=asyncio.FIRST_COMPLETED)
        if not stopping.done():
            # What the subscriptions still hold comes back to the queue after its lease.
            stopping.cancel()
            await asyncio.gather(stopping, return_exceptions=True)
        deadline = loop.time() + self.shutdown_timeout
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
                "stopping with %d job%s unfinished; they are left unsettled and the "
                "broker redelivers them",
                len(pending),
                "" if len(pending) == 1 else "s",
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await heartbeat.stop()
        runner.shutdown()
        self._intake = None
        return not pending


class _Claim:
    """The worker's hold on one running delivery (see :class:`~.processing.Claim`)."""

    __slots__ = ("_delivery", "_feed", "_generation", "_intake", "_worker")

    def __init__(
        self, worker: Worker, delivery: Delivery, intake: Intake, feed: Feed, generation: int
    ) -> None:
        self._worker = worker
        self._delivery = delivery
        self._intake = intake
        self._feed = feed
        self._generation = generation

    def still_ours(self) -> bool:
        return self._delivery not in self._worker._lost and self._intake.is_current(
            self._feed, self._generation
        )

    def letting_go(self) -> None:
        self._worker._holding.discard(self._delivery)
