"""Harness for the RabbitMQ backend on the real broker (127.0.0.1:5672 unless overridden).

Every test gets its own name prefix, so tests never see each other's queues, and its
connections are named ``brokerjobs-test.<prefix>.*`` (visible in ``rabbitmqctl
list_connections name``). A crash drops the test backend's sockets without closing AMQP.
If the broker is unreachable the test fails (never skips) and says how to start it.
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import pytest
from brokerjobs_rabbitmq import RabbitMQBackend, RabbitMQSettings
from brokerjobs_rabbitmq.topology import delete_async

from brokerjobs.backend import Backend
from tests.support.harness import BackendHarness

START_HINT = (
    "RabbitMQ is not reachable at {where}. Start it with `rabbitmq-server -detached` "
    "(or `sudo systemctl start rabbitmq-server`), or point BROKERJOBS_RABBITMQ_URL at a broker."
)


def broker_address() -> tuple[str, int]:
    url = urlsplit(RabbitMQSettings().url.get_secret_value())
    return url.hostname or "127.0.0.1", url.port or (5671 if url.scheme == "amqps" else 5672)


async def require_broker() -> None:
    """Fail the test with instructions when nothing listens on the broker's port."""
    host, port = broker_address()

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=2):
                return True
        except OSError:
            return False

    if not await asyncio.to_thread(probe):
        pytest.fail(START_HINT.format(where=f"{host}:{port}"), pytrace=False)


class RabbitMQHarness(BackendHarness):
    name = "rabbitmq"
    redelivery_timeout = 5.0
    timing_tolerance = 1.5

    def __init__(self) -> None:
        super().__init__()
        self.backends: list[RabbitMQBackend] = []
        self.queues_named: set[str] = set()

    def queue(self, base: str = "q") -> str:
        name = super().queue(base)
        self.queues_named.add(name)  # worker processes may declare it: delete it anyway
        return name

    def subprocess_env(self) -> dict[str, str]:
        """Environment for a ``brokerjobs consume`` child using this test's names."""
        return {
            "BROKERJOBS_BACKEND": "rabbitmq",
            "BROKERJOBS_RABBITMQ_PREFIX": f"{self.prefix}.",
            "BROKERJOBS_RABBITMQ_CLIENT_NAME": f"brokerjobs-test.{self.prefix}.child",
        }

    def options(self) -> dict[str, object]:
        """Settings overrides for this test's backends (unique prefix and connection name)."""
        return {"prefix": f"{self.prefix}.", "client_name": f"brokerjobs-test.{self.prefix}"}

    async def new_backend(self) -> Backend:
        return await self.new_rabbitmq_backend()

    async def new_rabbitmq_backend(self, **overrides: object) -> RabbitMQBackend:
        await require_broker()
        backend = RabbitMQBackend.from_options(**{**self.options(), **overrides})
        self.backends.append(backend)
        return backend

    async def crash(self, backend: Backend) -> None:
        assert isinstance(backend, RabbitMQBackend)
        backend._abort()

    async def aclose(self) -> None:
        queues = set(self.queues_named)
        for backend in self.backends:
            queues |= backend.declared_queues
            await backend.aclose()
            await asyncio.to_thread(backend.close)
        if not queues:
            return
        cleaner = RabbitMQBackend.from_options(**self.options())
        try:
            channel = await cleaner._channel("clean up test queues")
            for queue in sorted(queues):
                await delete_async(channel, cleaner.topology.names(queue))
        finally:
            await cleaner.aclose()


HARNESS = RabbitMQHarness
MARKS = [pytest.mark.rabbitmq]
