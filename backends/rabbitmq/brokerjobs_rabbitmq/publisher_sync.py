"""Blocking publishing on pika for sync services: one connection per thread, fork-safe.

pika objects are not thread-safe (frames of two threads interleave on a shared
connection), so every thread gets its own ``BlockingConnection`` through a
``threading.local``. Each cached connection records the pid that opened it: in a child
process after ``fork()`` (gunicorn) the inherited one is abandoned, never used or closed
(closing it would write on the parent's socket), and the child opens its own.

Timeouts: while the broker has sent ``connection.blocked`` (memory or disk alarm) nothing
is written: a publish waits for ``connection.unblocked`` up to the publish timeout and
then fails having sent nothing. Frames written to a blocked connection would stay in the
socket and be delivered once the alarm clears, after the caller was told the publish
failed (and had likely dispatched again). ``blocked_connection_timeout`` tears such a
connection down, and a timer on pika's I/O loop ends a publish whose confirm does not
arrive in time. All raise :class:`~brokerjobs.errors.BrokerUnavailableError`, and the
next publish reconnects.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import pika
import pika.exceptions as pex
from pamqp.commands import Basic

from brokerjobs.errors import BrokerJobsError

from .publisher_async import WINDOW, Outgoing, batch_error
from .settings import RabbitMQSettings
from .topology import Declaration, apply_sync
from .translate import blocked_error, translate

IDLE_CHECK = 2.0
"""Seconds of idleness after which a thread's connection is checked before use."""


class _ConfirmTimeout(pex.AMQPConnectionError):  # type: ignore[misc]
    """Raised inside pika when a confirm did not arrive within the publish timeout."""


class _StillBlocked(Exception):
    """The broker kept publishers blocked for the whole publish timeout; nothing was sent."""


class _ThreadConnection:
    """The connection of one thread, plus a second channel used for pipelined batches."""

    def __init__(self, settings: RabbitMQSettings) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.settings = settings
        self.connection = pika.BlockingConnection(_parameters(settings))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        self.batch: _BatchChannel | None = None
        self.last_used = time.monotonic()
        self.blocked = False
        self.connection.add_on_connection_blocked_callback(self._on_blocked)
        self.connection.add_on_connection_unblocked_callback(self._on_unblocked)

    def _on_blocked(self, _connection: Any, _frame: Any) -> None:
        self.blocked = True

    def _on_unblocked(self, _connection: Any, _frame: Any) -> None:
        self.blocked = False

    def wait_unblocked(self, timeout: float) -> None:
        """Return once the broker accepts publishes; raise :class:`_StillBlocked` if it
        does not within ``timeout``. Runs pika's I/O, which delivers ``connection.unblocked``."""
        if not self.blocked:
            return
        deadline = time.monotonic() + timeout
        while self.blocked:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _StillBlocked
            self.connection.process_data_events(time_limit=min(remaining, 0.5))

    @property
    def usable(self) -> bool:
        return self.pid == os.getpid() and self.connection.is_open and self.channel.is_open

    def still_alive(self) -> bool:
        """Whether an idle connection survived: pika only does I/O inside its own calls,
        so a connection idle past two heartbeats was closed by the broker without pika
        noticing. Reading what is pending tells (and services heartbeats)."""
        if time.monotonic() - self.last_used > IDLE_CHECK:
            try:
                self.connection.process_data_events(time_limit=0)
            except Exception:
                return False
        return self.usable

    def deadline_timer(self, seconds: float) -> Any:
        """Cut the connection if still waiting after ``seconds`` (runs inside pika's I/O)."""
        impl = self.connection._impl

        def expire() -> None:
            impl._terminate_stream(_ConfirmTimeout(f"no confirm within {seconds:g} s"))

        return impl.ioloop.call_later(seconds, expire)

    def cancel_timer(self, timer: Any) -> None:
        self.connection._impl.ioloop.remove_timeout(timer)

    def close(self) -> None:
        if self.pid == os.getpid() and self.connection.is_open:
            # Closing a broken connection has nothing to report.
            with contextlib.suppress(Exception):
                self.connection.close()


class _BatchChannel:
    """A confirm-mode channel driven through pika's core API to pipeline confirms.

    ``BlockingChannel.basic_publish`` waits for each confirm in turn; here the callbacks
    of the underlying channel settle ``outstanding`` as confirms arrive, and the caller
    runs pika's I/O loop until few enough are left.
    """

    def __init__(self, owner: _ThreadConnection) -> None:
        self.owner = owner
        self.blocking = owner.connection.channel()
        self.impl = self.blocking._impl
        self.next_tag = 1
        self.outstanding: dict[int, str] = {}
        self.returned: set[str] = set()
        self.failures: list[str] = []
        selected: list[bool] = []
        self.impl.confirm_delivery(self._on_confirm, callback=lambda _frame: selected.append(True))
        self.impl.add_on_return_callback(self._on_return)
        owner.connection._flush_output(lambda: bool(selected))

    def publish(self, outgoing: Outgoing) -> None:
        self.impl.basic_publish(
            outgoing.route.exchange,
            outgoing.route.routing_key,
            outgoing.body,
            _pika_properties(outgoing.properties),
            mandatory=True,
        )
        self.outstanding[self.next_tag] = outgoing.properties.message_id or ""
        self.next_tag += 1

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        nacked = not isinstance(method, pika.spec.Basic.Ack)
        if method.multiple:
            # Tags are confirmed in order: settle from the oldest up to this one.
            while self.outstanding:
                tag = next(iter(self.outstanding))
                if tag > method.delivery_tag:
                    break
                self._settle(tag, nacked)
        elif method.delivery_tag in self.outstanding:
            self._settle(method.delivery_tag, nacked)

    def _settle(self, tag: int, nacked: bool) -> None:
        message_id = self.outstanding.pop(tag)
        if nacked:
            self.failures.append("nack")
        elif message_id in self.returned:
            self.returned.discard(message_id)
            self.failures.append("unroutable")

    def _on_return(self, _channel: Any, _method: Any, properties: Any, _body: bytes) -> None:
        self.returned.add(properties.message_id)

    def wait(self, most: int, timeout: float) -> None:
        """Run pika's I/O until at most ``most`` confirms are outstanding."""
        if len(self.outstanding) <= most:
            return
        impl = self.owner.connection._impl
        expired: list[bool] = []
        timer = impl.ioloop.call_later(timeout, lambda: expired.append(True))
        try:
            self.owner.connection._flush_output(
                lambda: len(self.outstanding) <= most or bool(expired)
            )
        finally:
            impl.ioloop.remove_timeout(timer)
        if len(self.outstanding) > most:
            raise _ConfirmTimeout(f"no confirm within {timeout:g} s")


def _parameters(settings: RabbitMQSettings) -> pika.URLParameters:
    params = pika.URLParameters(settings.url.get_secret_value())
    params.heartbeat = settings.heartbeat
    params.blocked_connection_timeout = settings.publish_timeout
    params.socket_timeout = settings.connect_timeout
    params.stack_timeout = settings.connect_timeout
    params.connection_attempts = 1
    params.client_properties = {"connection_name": f"{settings.client_name}.sync-publisher"}
    context = settings.ssl_context()
    if context is not None:
        params.ssl_options = pika.SSLOptions(context, params.host)
    return params


def _pika_properties(properties: Basic.Properties) -> pika.BasicProperties:
    return pika.BasicProperties(
        delivery_mode=properties.delivery_mode,
        message_id=properties.message_id,
        headers=properties.headers,
        content_type=properties.content_type,
    )


class SyncPublisher:
    """Thread-safe, fork-safe blocking publisher with confirms, returns and timeouts."""

    def __init__(self, settings: RabbitMQSettings) -> None:
        self._settings = settings
        self._local = threading.local()
        self._all: weakref.WeakSet[_ThreadConnection] = weakref.WeakSet()
        self._all_lock = threading.Lock()

    def _connection(self, action: str) -> _ThreadConnection:
        current: _ThreadConnection | None = getattr(self._local, "connection", None)
        if current is not None and current.still_alive():
            return current
        if current is not None:
            current.close()
        self._local.connection = None
        try:
            current = _ThreadConnection(self._settings)
        except Exception as exc:
            raise translate(
                exc, self._settings, action, timeout=self._settings.connect_timeout
            ) from None
        self._local.connection = current
        with self._all_lock:
            self._all.add(current)
        return current

    def _run(self, action: str, work: Callable[[_ThreadConnection], None]) -> None:
        connection = self._connection(action)
        timeout = self._settings.publish_timeout
        with connection.lock:
            connection.last_used = time.monotonic()
            try:
                work(connection)
            except BrokerJobsError:
                raise
            except _ConfirmTimeout as exc:
                error = translate(TimeoutError(str(exc)), self._settings, action, timeout=timeout)
                raise error from None
            except _StillBlocked:
                raise blocked_error(self._settings, action, timeout) from None
            except Exception as exc:
                if not connection.usable:
                    self._local.connection = None
                raise translate(exc, self._settings, action, timeout=timeout) from None

    def declare(self, ops: list[Declaration], action: str) -> None:
        def work(connection: _ThreadConnection) -> None:
            timer = connection.deadline_timer(self._settings.publish_timeout * 3)
            try:
                apply_sync(connection.channel, ops)
            finally:
                if connection.connection.is_open:
                    connection.cancel_timer(timer)

        self._run(action, work)

    def publish(self, outgoing: Outgoing, action: str) -> None:
        """Publish one message and wait (bounded) for its confirm."""

        def work(connection: _ThreadConnection) -> None:
            connection.wait_unblocked(self._settings.publish_timeout)
            timer = connection.deadline_timer(self._settings.publish_timeout)
            try:
                connection.channel.basic_publish(
                    outgoing.route.exchange,
                    outgoing.route.routing_key,
                    outgoing.body,
                    _pika_properties(outgoing.properties),
                    mandatory=True,
                )
            finally:
                if connection.connection.is_open:
                    connection.cancel_timer(timer)

        self._run(action, work)

    def publish_many(self, messages: Sequence[Outgoing], action: str) -> None:
        """Publish with up to :data:`WINDOW` confirms outstanding on a second channel."""
        if len(messages) <= 1:
            for outgoing in messages:
                self.publish(outgoing, action)
            return
        failures: list[str] = []

        def work(connection: _ThreadConnection) -> None:
            if connection.batch is None or not connection.batch.blocking.is_open:
                connection.batch = _BatchChannel(connection)
            batch = connection.batch
            batch.outstanding.clear()
            batch.returned.clear()
            batch.failures = failures
            timeout = self._settings.publish_timeout
            for outgoing in messages:
                batch.wait(WINDOW - 1, timeout)
                connection.wait_unblocked(timeout)
                batch.publish(outgoing)
            batch.wait(0, timeout)

        self._run(action, work)
        if failures:
            errors: list[BrokerJobsError] = [
                translate(
                    pex.NackError([]) if kind == "nack" else pex.UnroutableError([]),
                    self._settings,
                    action,
                )
                for kind in failures
            ]
            raise batch_error(action, errors, len(messages))

    def close(self) -> None:
        """Close every thread's connection that is idle now (busy ones close on next use)."""
        with self._all_lock:
            connections = list(self._all)
            self._all = weakref.WeakSet()
        for connection in connections:
            if connection.lock.acquire(blocking=False):
                try:
                    connection.close()
                finally:
                    connection.lock.release()
        self._local = threading.local()
