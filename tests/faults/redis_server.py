"""A private ``redis-server`` for broker-level faults, never the shared one on 6379.

It runs as a child process of the test (its PID is ours to kill), listens on a free
loopback port, and keeps its AOF and log in a directory of its own, so a kill -9 and a
restart on the same directory show exactly what the server's persistence kept.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.faults.rabbit_node import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """Start, kill -9 and restart one private server (``appendfsync`` of your choice)."""

    def __init__(self, base: Path, *, appendfsync: str | None = "always") -> None:
        """``appendfsync=None`` runs without any persistence (no AOF, no RDB)."""
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.appendfsync = appendfsync
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", self.appendfsync]
            if self.appendfsync
            else ["--appendonly", "no"]
        )
        return [
            REDIS_SERVER,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            *persistence,
            "--dir", str(self.base),
            "--logfile", str(self.base / "redis.log"),
            "--daemonize", "no",
        ]  # fmt: skip

    def start(self, timeout: float = 30) -> None:
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url, socket_timeout=2)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.base / "redis.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"private redis-server did not start:\n{log}")
                time.sleep(0.05)
        finally:
            client.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def restart(self, down_for: float = 0.0) -> None:
        """kill -9, stay down ``down_for`` seconds, start again on the same directory."""
        self.kill9()
        time.sleep(down_for)
        self.start()

    def stop(self) -> None:
        self.kill9()


@contextmanager
def private_redis(appendfsync: str | None = "always") -> Iterator[RedisServer]:
    """A started private server in a fresh temporary directory, killed and removed after."""
    base = Path(tempfile.mkdtemp(prefix="bjfaults-redis-"))
    server = RedisServer(base, appendfsync=appendfsync)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
