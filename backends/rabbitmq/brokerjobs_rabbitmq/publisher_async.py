"""Async publishing: one confirm-mode channel per event loop, mandatory, bounded waits.

Every publish sets ``mandatory`` (an unroutable message is *confirmed* by RabbitMQ, so
only the ``basic.return`` that precedes the confirm tells it was dropped) and waits for the
confirm with a timeout, so a broker under a memory alarm (``connection.blocked``) or a
cut network produces :class:`~brokerjobs.errors.BrokerUnavailableError`, never a hang.
While the connection is blocked nothing is written (aiormq itself would queue the frames,
and the broker would take them once the alarm clears, after the caller was told the
publish failed): a publish waits for ``connection.unblocked`` within its timeout.
Batches keep up to :data:`WINDOW` publishes in flight and wait for their confirms
together (pipelined confirms).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiormq.abc
from pamqp.commands import Basic

from brokerjobs.errors import (
    BackendError,
    BrokerJobsError,
    BrokerUnavailableError,
    PublishRejectedError,
)

from .connection import AsyncConnector
from .topology import Route
from .translate import blocked_error, translate

WINDOW = 500
"""Unconfirmed publishes kept in flight by a batch."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One fully prepared publish."""

    route: Route
    body: bytes
    properties: Basic.Properties


class BatchRejectedError(PublishRejectedError):
    """Part of a batch was refused; ``accepted`` messages were confirmed by the broker."""

    accepted: int = 0
    total: int = 0


class BatchUnavailableError(BrokerUnavailableError):
    """Part of a batch was not confirmed in time; ``accepted`` messages were confirmed."""

    accepted: int = 0
    total: int = 0


def batch_error(action: str, failures: list[BrokerJobsError], total: int) -> BackendError:
    """One error for a partly failed batch, of the same kind as the first failure."""
    first = failures[0]
    accepted = total - len(failures)
    error: BatchRejectedError | BatchUnavailableError
    text = (
        f"{action}: {accepted} of {total} messages were accepted, {len(failures)} were not; "
        f"publish those again. First error: {first}"
    )
    error = (
        BatchRejectedError(text)
        if isinstance(first, PublishRejectedError)
        else (BatchUnavailableError(text))
    )
    error.accepted, error.total = accepted, total
    return error


class _LoopState:
    """The publishing connection and channel that belong to one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lock = asyncio.Lock()
        self.connection: aiormq.abc.AbstractConnection | None = None
        self.channel: aiormq.abc.AbstractChannel | None = None

    def current(self) -> bool:
        """Whether this state belongs to the running loop."""
        return self.loop is asyncio.get_running_loop()


class AsyncPublisher:
    """Publishes with confirms on a lazily opened connection (reopened after a loss)."""

    def __init__(self, connector: AsyncConnector) -> None:
        self._connector = connector
        self._settings = connector.settings
        self._state: _LoopState | None = None

    async def _channel(self) -> aiormq.abc.AbstractChannel:
        loop = asyncio.get_running_loop()
        state = self._state
        if state is None or state.loop is not loop:
            # A connection belongs to the loop that opened it; another loop gets its own.
            state = self._state = _LoopState(loop)
        channel = state.channel
        if channel is not None and not channel.is_closed:
            return channel
        async with state.lock:
            if state.channel is not None and not state.channel.is_closed:
                return state.channel
            if state.connection is None or state.connection.is_closed:
                state.connection = await self._connector.connect("publisher")
            try:
                state.channel = await state.connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
            except Exception as exc:
                raise translate(exc, self._settings, "open a publishing channel") from None
            return state.channel

    async def publish(self, outgoing: Outgoing, action: str, timeout: float | None = None) -> None:
        """Publish one message and wait for its confirm, at most ``timeout`` seconds
        (default: the ``publish_timeout`` setting), a blocked connection included."""
        timeout = timeout or self._settings.publish_timeout
        started = time.monotonic()
        try:
            state = self._state
            channel = state.channel if state is not None else None
            if channel is None or channel.is_closed or state is None or not state.current():
                async with asyncio.timeout(timeout):
                    channel = await self._channel()
            await self._unblocked(channel, timeout, started, action)
            await channel.basic_publish(
                outgoing.body,
                exchange=outgoing.route.exchange,
                routing_key=outgoing.route.routing_key,
                properties=outgoing.properties,
                mandatory=True,
                timeout=max(0.001, timeout - (time.monotonic() - started)),
            )
        except Exception as exc:
            raise translate(exc, self._settings, action, timeout=timeout) from None

    async def _unblocked(
        self, channel: aiormq.abc.AbstractChannel, timeout: float, started: float, action: str
    ) -> None:
        """Wait (bounded) until the broker accepts publishes on ``channel``'s connection."""
        # aiormq keeps the blocked state in a private event; reading it spares the hot path
        # a timeout context per publish. Should the name change, the bounded wait remains.
        unblocked = getattr(channel.connection, "_Connection__connection_unblocked", None)
        if isinstance(unblocked, asyncio.Event) and unblocked.is_set():
            return
        try:
            async with asyncio.timeout(max(0.001, timeout - (time.monotonic() - started))):
                await channel.connection.ready()
        except TimeoutError:
            raise blocked_error(self._settings, action, timeout) from None

    async def publish_many(self, messages: Sequence[Outgoing], action: str) -> None:
        """Publish ``messages`` with up to :data:`WINDOW` confirms outstanding."""
        if not messages:
            return
        if len(messages) == 1:
            await self.publish(messages[0], action)
            return
        window = asyncio.Semaphore(WINDOW)
        failures: list[BrokerJobsError] = []

        async def one(outgoing: Outgoing) -> None:
            async with window:
                if failures and isinstance(failures[0], BrokerUnavailableError):
                    failures.append(failures[0])
                    return
                try:
                    await self.publish(outgoing, action)
                except BrokerJobsError as exc:
                    failures.append(exc)

        await asyncio.gather(*(one(outgoing) for outgoing in messages))
        if failures:
            raise batch_error(action, failures, len(messages)) from failures[0]

    async def aclose(self) -> None:
        state, self._state = self._state, None
        if state is None or state.connection is None:
            return
        if state.loop is asyncio.get_running_loop():
            # Closing a broken connection has nothing to report.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await state.connection.close()
