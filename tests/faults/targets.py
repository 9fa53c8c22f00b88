"""Where a scenario runs: the private RabbitMQ node, moto server or redis-server, or SQLite.

A target gives the environment of worker subprocesses (``env``) and in-process backends
(``backend()``) pointed at the same broker, under names unique to the test.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
from brokerjobs_rabbitmq import RabbitMQBackend
from brokerjobs_rabbitmq.topology import delete_async
from brokerjobs_redis import RedisBackend
from brokerjobs_sql import SQLiteBackend
from brokerjobs_sqs import SQSBackend

from brokerjobs.backend import Backend
from brokerjobs.errors import BrokerJobsError
from tests.faults.moto_process import CREDENTIALS, MotoProcess
from tests.faults.rabbit_node import RabbitNode
from tests.faults.redis_server import RedisServer


class Target:
    """Base: a unique prefix, the backends made, and their cleanup."""

    name = "?"
    redelivery: float = 10.0
    """Seconds for a killed worker's deliveries to come back (lease, vt, connection drop)."""

    def __init__(self) -> None:
        self.prefix = f"f{uuid.uuid4().hex[:8]}"
        self.backends: list[Backend] = []
        self.queue = f"{self.prefix}-work"

    def env(self) -> dict[str, str]:
        raise NotImplementedError

    def make(self, **overrides: Any) -> Backend:
        raise NotImplementedError

    def backend(self, **overrides: Any) -> Backend:
        made = self.make(**overrides)
        self.backends.append(made)
        return made

    async def aclose(self) -> None:
        for made in self.backends:
            await made.aclose()
            made.close()


class RabbitTarget(Target):
    name = "rabbitmq"
    redelivery = 5.0

    def __init__(self, node: RabbitNode, **overrides: Any) -> None:
        super().__init__()
        self.node = node
        self.overrides = overrides

    def settings(self) -> dict[str, Any]:
        return {
            "url": self.node.url,
            "prefix": f"{self.prefix}.",
            "client_name": f"bjfaults.{self.prefix}",
            "publish_timeout": 3.0,
            "connect_timeout": 3.0,
            "heartbeat": 5,
            "consumer_timeout": self.node.consumer_timeout_ms / 1000,
            **self.overrides,
        }

    def env(self) -> dict[str, str]:
        return {
            "BROKERJOBS_BACKEND": "rabbitmq",
            **{f"BROKERJOBS_RABBITMQ_{k.upper()}": str(v) for k, v in self.settings().items()},
        }

    def make(self, **overrides: Any) -> Backend:
        return RabbitMQBackend.from_options(**{**self.settings(), **overrides})

    async def aclose(self) -> None:
        """Close, then delete what this test declared: the node outlives the test, and a
        node holding hundreds of old quorum queues recovers slowly after a restart."""
        queues: set[str] = {self.queue}
        for made in self.backends:
            queues |= getattr(made, "declared_queues", frozenset())
        await super().aclose()
        cleaner = RabbitMQBackend.from_options(**self.settings())
        try:
            channel = await cleaner._channel("delete the fault test's queues")
            for queue in sorted(queues):
                await delete_async(channel, cleaner.topology.names(queue))
        except BrokerJobsError:
            pass  # the node may be down (a fault left it so); it is private anyway
        finally:
            await cleaner.aclose()

    def broker_queue(self, suffix: str = "") -> str:
        return f"{self.prefix}.{self.queue}{suffix}"


class SqsTarget(Target):
    name = "sqs"
    visibility_timeout = 4
    redelivery = visibility_timeout + 3.0

    secret_key = "bjfaults/Secret+" + uuid.uuid4().hex
    """moto takes any credentials: a distinctive secret the fault runs scan logs for."""

    def __init__(self, moto: MotoProcess, **overrides: Any) -> None:
        super().__init__()
        self.moto = moto
        self.overrides = overrides

    def settings(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.moto.url,
            "region": "us-east-1",
            "aws_access_key_id": CREDENTIALS["aws_access_key_id"],
            "aws_secret_access_key": self.secret_key,
            "queue_prefix": f"{self.prefix}-",
            "visibility_timeout": self.visibility_timeout,
            "wait_time": 1,
            "connect_timeout": 2,
            "read_timeout": 5,
            **self.overrides,
        }

    def env(self) -> dict[str, str]:
        return {
            "BROKERJOBS_BACKEND": "sqs",
            **{f"BROKERJOBS_SQS_{k.upper()}": str(v) for k, v in self.settings().items()},
        }

    def make(self, **overrides: Any) -> Backend:
        return SQSBackend.from_options(**{**self.settings(), **overrides})

    def raw_client(self) -> Any:
        """A plain boto3 client on the same endpoint (another program's view)."""
        return boto3.client(
            "sqs",
            endpoint_url=self.moto.url,
            region_name="us-east-1",
            aws_access_key_id=CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=self.secret_key,
        )

    def sqs_name(self, queue: str) -> str:
        return f"{self.prefix}-{queue}"


class SqliteTarget(Target):
    name = "sqlite"
    lease = 2.0
    redelivery = lease + 3.0

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.path = directory / f"{self.prefix}.db"

    def settings(self) -> dict[str, Any]:
        return {"path": str(self.path), "lease_seconds": self.lease, "poll_interval": 0.05}

    def env(self) -> dict[str, str]:
        return {
            "BROKERJOBS_BACKEND": "sqlite",
            "BROKERJOBS_BACKEND_OPTIONS": json.dumps(self.settings()),
        }

    def make(self, **overrides: Any) -> Backend:
        return SQLiteBackend(**{**self.settings(), **overrides})


class RedisTarget(Target):
    """A private redis-server (its own port and AOF directory), short leases."""

    name = "redis"
    lease = 2.0
    redelivery = lease + 4.0

    def __init__(self, server: RedisServer, **overrides: Any) -> None:
        super().__init__()
        self.server = server
        self.overrides = overrides

    def settings(self) -> dict[str, Any]:
        return {
            "url": self.server.url,
            "prefix": f"{self.prefix}:",
            "lease": self.lease,
            "poll_interval": 0.1,
            "socket_timeout": 3.0,
            "connect_timeout": 2.0,
            "client_name": f"bjfaults.{self.prefix}",
            **self.overrides,
        }

    def env(self) -> dict[str, str]:
        return {
            "BROKERJOBS_BACKEND": "redis",
            **{f"BROKERJOBS_REDIS_{k.upper()}": str(v) for k, v in self.settings().items()},
        }

    def make(self, **overrides: Any) -> Backend:
        return RedisBackend.from_options(**{**self.settings(), **overrides})
