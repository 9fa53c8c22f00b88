"""A private Sentinel group on loopback: a master, one replica and one sentinel.

Each is a :class:`~tests.faults.redis_server.RedisServer` child process (PIDs ours), in
its own directory; the sentinel (quorum 1) fails over one second after the master stops
answering.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.faults.rabbit_node import free_port
from tests.faults.redis_server import REDIS_SERVER, RedisServer

SERVICE = "bjfaults"


class ReplicaNode(RedisServer):
    def __init__(self, base: Path, master: RedisServer) -> None:
        super().__init__(base, appendfsync=None)
        self.master = master

    def command(self) -> list[str]:
        return [*super().command(), "--replicaof", "127.0.0.1", str(self.master.port)]


class SentinelNode(RedisServer):
    def __init__(self, base: Path, master: RedisServer) -> None:
        super().__init__(base, appendfsync=None)
        self.config = base / "sentinel.conf"
        self.config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {base}\n"
            f"logfile {base / 'redis.log'}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
        )

    def command(self) -> list[str]:
        return [REDIS_SERVER, str(self.config), "--sentinel"]


@dataclass
class SentinelGroup:
    master: RedisServer
    replica: ReplicaNode
    sentinel: SentinelNode

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel.port}/{SERVICE}/0"


@contextmanager
def private_sentinel() -> Iterator[SentinelGroup]:
    base = Path(tempfile.mkdtemp(prefix="bjfaults-sentinel-"))
    master = RedisServer(base / "master", appendfsync=None)
    master.port = free_port()
    replica = ReplicaNode(base / "replica", master)
    (base / "sentinel").mkdir(parents=True, exist_ok=True)
    sentinel = SentinelNode(base / "sentinel", master)
    group = SentinelGroup(master, replica, sentinel)
    try:
        for node in (master, replica, sentinel):
            node.start()
        yield group
    finally:
        for node in (sentinel, replica, master):
            node.stop()
        shutil.rmtree(base, ignore_errors=True)
