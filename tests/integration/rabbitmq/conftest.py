"""Fixtures for the RabbitMQ integration tests: a harness per test, scoped broker faults.

Faults only ever touch this test's own connections (found by their client-provided
name), never the rest of the shared broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator

import pytest

from brokerjobs.backend import OutgoingMessage
from tests.support.backend_rabbitmq import RabbitMQHarness

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
async def rabbit() -> AsyncIterator[RabbitMQHarness]:
    harness = RabbitMQHarness()
    try:
        yield harness
    finally:
        await harness.aclose()


def message(body: bytes | None = None, *, delay: float = 0.0) -> OutgoingMessage:
    """A message with a fresh id; the body names it unless given."""
    message_id = uuid.uuid4().hex
    return OutgoingMessage(
        body=body if body is not None else f'{{"id":"{message_id}"}}'.encode(),
        message_id=message_id,
        delay=delay,
    )


def _rabbitmqctl(*args: str) -> str:
    tool = shutil.which("rabbitmqctl")
    if tool is None:
        pytest.fail("rabbitmqctl is not on PATH; it is needed to close connections", pytrace=False)
    done = subprocess.run([tool, "-q", *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}", pytrace=False)
    return done.stdout


async def close_named_connections(name_prefix: str) -> int:
    """Close (broker side) every connection whose client-provided name starts with it."""

    def run() -> int:
        listing = _rabbitmqctl("list_connections", "--no-table-headers", "pid", "client_properties")
        closed = 0
        for line in listing.splitlines():
            pid, _, properties = line.partition("\t")
            if f'{{"connection_name","{name_prefix}' in properties:
                _rabbitmqctl("close_connection", pid, "brokerjobs integration test")
                closed += 1
        return closed

    return await asyncio.to_thread(run)


class PausableProxy:
    """A TCP proxy to the broker that can stop forwarding (a black hole, no FIN/RST)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.forwarding = asyncio.Event()
        self.forwarding.set()
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> PausableProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, upstream_writer]
        await asyncio.gather(
            self._pipe(reader, upstream_writer),
            self._pipe(upstream_reader, writer),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            await self.forwarding.wait()
            writer.write(data)
            await writer.drain()
        writer.close()

    def pause(self) -> None:
        self.forwarding.clear()

    async def aclose(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()
