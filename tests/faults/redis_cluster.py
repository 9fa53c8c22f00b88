"""A private 3-master Redis Cluster on loopback, built with ``redis-cli --cluster create``.

Each node is a :class:`~tests.faults.redis_server.RedisServer` child process (its PID is
ours) with cluster mode on and its own directory; nothing touches the shared server.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import redis.cluster

from tests.faults.redis_server import RedisServer

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_ports(count: int) -> list[int]:
    """Free ports whose cluster-bus twins (port + 10000) are free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 29000)
        if port not in ports and _free(port) and _free(port + 10000):
            ports.append(port)
    return ports


class ClusterNode(RedisServer):
    def __init__(self, base: Path, port: int) -> None:
        super().__init__(base, appendfsync=None)
        self.port = port

    def command(self) -> list[str]:
        return [
            *super().command(),
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(self.base / "nodes.conf"),
            "--cluster-node-timeout", "3000",
        ]  # fmt: skip


@contextmanager
def private_cluster(masters: int = 3, replicas: int = 0) -> Iterator[list[ClusterNode]]:
    """``masters`` masters with ``replicas`` replicas each (asynchronous replication)."""
    base = Path(tempfile.mkdtemp(prefix="bjfaults-cluster-"))
    count = masters * (1 + replicas)
    nodes = [ClusterNode(base / str(port), port) for port in cluster_ports(count)]
    try:
        for node in nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in nodes]
        subprocess.run(
            [REDIS_CLI, "--cluster", "create", *addresses, "--cluster-replicas", str(replicas),
             "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        _wait_ok(nodes)
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(base, ignore_errors=True)


def owner_of(nodes: list[ClusterNode], key: str) -> ClusterNode:
    """The node that serves ``key``'s slot now (after a failover: the promoted replica)."""
    live = next(node for node in nodes if node.process and node.process.poll() is None)
    client = redis.cluster.RedisCluster.from_url(live.url)
    try:
        port = int(client.get_node_from_key(key).port)  # type: ignore[no-untyped-call]
    finally:
        client.close()
    return next(node for node in nodes if node.port == port)


def _wait_ok(nodes: list[ClusterNode], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    for node in nodes:
        client = redis.Redis.from_url(node.url)
        try:
            while client.cluster("INFO").get("cluster_state") != "ok":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cluster not ok on {node.url}")
                time.sleep(0.1)
        finally:
            client.close()
