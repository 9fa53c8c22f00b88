"""Opening aiormq connections (aio-pika's AMQP layer) from the settings.

Each connection is tied to the event loop that opened it. The connector remembers the
socket of every connection it opened, so that a test harness can drop them abruptly
(:meth:`AsyncConnector.abort`), exactly as a killed process would.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

import aiormq
import aiormq.abc
from aiormq.connection import TCPTransportFactory, TLSTransportFactory, TransportFactory
from yarl import URL

from .settings import RabbitMQSettings
from .translate import translate


class _RecordingTransport(TransportFactory):
    """Opens the socket like aiormq does and keeps the writer for :meth:`AsyncConnector.abort`."""

    def __init__(self, inner: TransportFactory, sink: weakref.WeakSet[asyncio.StreamWriter]):
        self._inner = inner
        self._sink = sink

    async def create(
        self, url: URL, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await self._inner.create(url, **kwargs)
        self._sink.add(writer)
        return reader, writer


class AsyncConnector:
    """Opens and tracks the async connections of one backend instance."""

    def __init__(self, settings: RabbitMQSettings) -> None:
        self.settings = settings
        self._writers: weakref.WeakSet[asyncio.StreamWriter] = weakref.WeakSet()
        self._connections: weakref.WeakSet[aiormq.abc.AbstractConnection] = weakref.WeakSet()

    def _url(self) -> URL:
        url = URL(self.settings.url.get_secret_value())
        return url.update_query(heartbeat=str(self.settings.heartbeat))

    async def connect(
        self, purpose: str, *, doing: str | None = None
    ) -> aiormq.abc.AbstractConnection:
        """A new open connection named ``<client_name>.<purpose>``; errors translated.

        ``doing`` is what the connection was opened for, as errors should say it (the
        consumer connection also serves declarations made while publishing).
        """
        settings = self.settings
        inner = TLSTransportFactory() if settings.uses_tls else TCPTransportFactory()
        connection = aiormq.Connection(
            self._url(),
            context=settings.ssl_context(),
            transport_factory=_RecordingTransport(inner, self._writers),
            client_properties={"connection_name": f"{settings.client_name}.{purpose}"},
        )
        try:
            async with asyncio.timeout(settings.connect_timeout):
                await connection.connect()
        except BaseException as exc:
            await _close_quietly(connection)
            if isinstance(exc, Exception):
                action = f"{doing}: connect" if doing else f"connect ({purpose})"
                raise translate(exc, settings, action, timeout=settings.connect_timeout) from None
            raise
        self._connections.add(connection)
        return connection

    def abort(self) -> None:
        """Drop every open socket now, without closing AMQP politely (simulates kill -9)."""
        for writer in list(self._writers):
            transport = writer.transport
            if not transport.is_closing():
                transport.abort()

    async def close_all(self) -> None:
        """Close every connection opened on the running loop (others are abandoned)."""
        loop = asyncio.get_running_loop()
        for connection in list(self._connections):
            if connection.loop is loop:
                await _close_quietly(connection)


async def _close_quietly(connection: aiormq.abc.AbstractConnection) -> None:
    if connection.is_closed:
        return
    # A connection that cannot close cleanly is gone for our purposes.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5):
            await connection.close()
