"""A private RabbitMQ node for broker-level faults, never the shared one.

The node runs as a child process of the test session (its PID is ours to kill), listens
on 127.0.0.1 only, keeps its data, logs and config in a temporary directory, and uses
its own Erlang cookie in its own ``HOME``: our ``rabbitmqctl`` calls carry that cookie,
so they cannot reach the shared node even by mistake. ``consumer_timeout`` is set low
(node-wide on 3.10) for the consumer-timeout scenario.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
NODE = "bjfaults@localhost"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class RabbitNode:
    """Start, control and stop one private node (``rabbitmqctl -n bjfaults@localhost``)."""

    def __init__(self, base: Path, *, consumer_timeout_ms: int = 20000) -> None:
        self.base = base
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"bjfaults{secrets.token_hex(3)}@localhost"
        self.consumer_timeout_ms = consumer_timeout_ms
        self.process: subprocess.Popen[bytes] | None = None
        home = base / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "loopback_users.guest = true\n"
            f"consumer_timeout = {consumer_timeout_ms}\n"
            "vm_memory_high_watermark.relative = 0.4\n"
        )
        # 3.10 checks consumer timeouts on the channel tick (60 s by default): tick every
        # second so the consumer-timeout scenario takes seconds, not minutes.
        (base / "advanced.config").write_text("[{rabbit, [{channel_tick_interval, 1000}]}].\n")
        (base / "plugins").write_text("[].\n")
        (base / "env.conf").write_text("")
        self.env = {
            **os.environ,
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(base / "env.conf"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_PID_FILE": str(base / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    user = "bjfaults"
    password = "Fault-Pw-" + secrets.token_hex(8)
    """A secret the fault runs scan every worker log for (it must never show)."""

    @property
    def url(self) -> str:
        return f"amqp://{self.user}:{self.password}@127.0.0.1:{self.port}/"

    def start(self, timeout: float = 90) -> None:
        log = (self.base / "server.log").open("ab")
        self.process = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.wait_ready(timeout)
        self.ctl("await_startup", "--timeout", str(int(timeout)))
        self.ctl("add_user", self.user, self.password)
        self.ctl("set_permissions", "-p", "/", self.user, ".*", ".*", ".*")

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"fault node exited; see {self.base / 'server.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"fault node not listening within {timeout} s")
            time.sleep(0.2)

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """Run ``rabbitmqctl -n <our node> ARGS``; raise with its output on failure."""
        done = subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr or done.stdout}")
        return done.stdout

    def close_all_connections(self, reason: str = "bjfaults") -> None:
        self.ctl("close_all_connections", reason)

    def restart_app(self, down_for: float = 0.0) -> None:
        """``stop_app``, wait ``down_for`` seconds (the outage under test), ``start_app``."""
        self.ctl("stop_app")
        time.sleep(down_for)
        self.ctl("start_app")
        self.wait_ready()

    def memory_alarm(self, on: bool) -> None:
        """Raise (watermark ~0) or clear (back to 0.4) the node's memory alarm."""
        self.ctl("set_vm_memory_high_watermark", "0.000001" if on else "0.4")

    def queues(self) -> dict[str, tuple[int, int, int]]:
        """name → (ready, unacknowledged, consumers) for every queue on the node."""
        out = self.ctl(
            "list_queues",
            "-q",
            "--no-table-headers",
            "name",
            "messages_ready",
            "messages_unacknowledged",
            "consumers",
        )
        found = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 4 and parts[1].isdigit():
                found[parts[0]] = (int(parts[1]), int(parts[2]), int(parts[3]))
        return found

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.ctl("stop", timeout=60)
            self.process.wait(30)
        except (RuntimeError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
