"""The RabbitMQ URL points somewhere wrong: a port that is not AMQP, a wrong vhost.

Dispatch must raise a :class:`DispatchError` (nothing else) within the configured
timeout; the CLI says so in one line. The "not AMQP" listeners are local TCP servers
of this test; the vhost cases use the real broker.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from brokerjobs_rabbitmq import RabbitMQBackend
from brokerjobs_rabbitmq.translate import AccessRefusedError

import brokerjobs
from brokerjobs.errors import ConfigurationError, DispatchError
from tests.integration.rabbitmq.wrong_endpoint_app import Probe
from tests.support.backend_rabbitmq import broker_address, require_broker

pytestmark = pytest.mark.rabbitmq

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 3.0
"""connect_timeout of these tests; four tries of it (what dispatch's retries did) is 12 s."""


class NotAmqp:
    """A local TCP listener that is not RabbitMQ: ``silent`` never answers, ``http`` answers
    with an HTTP error and hangs up."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                peer, _ = self.server.accept()
            except OSError:
                return  # closed by the test
            self.accepted += 1
            if self.mode == "http":
                peer.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                peer.close()
            else:
                self.held.append(peer)

    def close(self) -> None:
        self.server.close()
        for peer in self.held:
            peer.close()


@pytest.fixture(params=["silent", "http"])
def listener(request: pytest.FixtureRequest) -> Iterator[NotAmqp]:
    server = NotAmqp(request.param)
    yield server
    server.close()


def backend_at(port: int) -> RabbitMQBackend:
    return RabbitMQBackend.from_options(
        url=f"amqp://guest:guest@127.0.0.1:{port}/",
        connect_timeout=TIMEOUT,
        publish_timeout=TIMEOUT,
    )


def test_sync_dispatch_raises_a_dispatch_error_within_the_timeout(listener: NotAmqp) -> None:
    backend = backend_at(listener.port)
    try:
        for send in (
            lambda: brokerjobs.dispatch(Probe(), backend=backend),
            lambda: brokerjobs.dispatch_many([Probe(), Probe()], backend=backend),
        ):
            started = time.monotonic()
            with pytest.raises(DispatchError) as caught:
                send()
            took = time.monotonic() - started
            assert took < TIMEOUT + 2.0, f"{took:.1f} s: {caught.value}"
            # What was being done: publishing, even when the first step is a declaration.
            assert "publish" in str(caught.value) and "consumer" not in str(caught.value)
            assert "guest:guest" not in str(caught.value)
    finally:
        backend.close()


async def test_async_dispatch_raises_a_dispatch_error_within_the_timeout(
    listener: NotAmqp,
) -> None:
    backend = backend_at(listener.port)
    try:
        for send in (
            lambda: brokerjobs.dispatch_async(Probe(), backend=backend),
            lambda: brokerjobs.dispatch_many_async([Probe(), Probe()], backend=backend),
        ):
            started = time.monotonic()
            with pytest.raises(DispatchError) as caught:
                await send()
            took = time.monotonic() - started
            assert took < TIMEOUT + 2.0, f"{took:.1f} s: {caught.value}"
            # What was being done: publishing, even when the first step is a declaration.
            assert "publish" in str(caught.value) and "consumer" not in str(caught.value)
    finally:
        await backend.aclose()


def run_cli(*args: str, env: dict[str, str], timeout: float = 120) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("brokerjobs")), *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stderr, time.monotonic() - started


def test_cli_dispatch_fails_in_one_line_within_the_timeout(listener: NotAmqp) -> None:
    env = {
        "BROKERJOBS_BACKEND": "rabbitmq",
        "BROKERJOBS_RABBITMQ_URL": f"amqp://guest:guest@127.0.0.1:{listener.port}/",
        "BROKERJOBS_RABBITMQ_CONNECT_TIMEOUT": str(TIMEOUT),
    }
    app = ("--app", "tests.integration.rabbitmq.wrong_endpoint_app")
    # The CLI's start-up (seconds on a loaded machine): a usage error that connects nowhere.
    code, _, start_up = run_cli("dispatch", "wrongendpoint.Nope", *app, env=env)
    assert code == 2
    code, err, took = run_cli("dispatch", "wrongendpoint.Probe", *app, env=env)
    assert code == 1, err
    assert "Traceback" not in err and err.startswith("Error: ") and err.count("\n") == 1, err
    assert "Error: publish to 'wrong-endpoint'" in err, err
    # Four connect timeouts (what dispatch's retries did) would be 12 s more.
    assert took - start_up < TIMEOUT + 3.0, f"{took:.1f} s, start-up {start_up:.1f} s"


def test_a_port_that_hangs_up_at_once_is_still_retried() -> None:
    """Only a timeout is not retried: a dropped connection is quick and often transient."""
    server = NotAmqp("http")
    backend = backend_at(server.port)
    try:
        with pytest.raises(DispatchError):
            brokerjobs.dispatch(Probe(), backend=backend)
    finally:
        backend.close()
        server.close()
    assert server.accepted == 1 + brokerjobs.config.settings().dispatch_retries


def missing_vhost_url() -> str:
    host, port = broker_address()
    return f"amqp://guest:guest@{host}:{port}/brokerjobs-test-missing-{uuid.uuid4().hex[:8]}"


VHOST_SAYS = "vhost '{vhost}' does not exist or user has no access"


async def test_a_wrong_vhost_is_a_clear_access_error_not_a_transient_one() -> None:
    await require_broker()
    url = missing_vhost_url()
    says = VHOST_SAYS.format(vhost=url.rsplit("/", 1)[1])
    backend = RabbitMQBackend.from_options(url=url, connect_timeout=TIMEOUT)
    try:
        with pytest.raises(AccessRefusedError, match=says) as caught:
            await brokerjobs.dispatch_async(Probe(), backend=backend)
        assert isinstance(caught.value, DispatchError | ConfigurationError)
        with pytest.raises(AccessRefusedError, match=says):
            await asyncio.to_thread(brokerjobs.dispatch, Probe(), backend=backend)
        with pytest.raises(AccessRefusedError, match=says):
            await backend.declare("wrong-vhost")  # what the worker does first
    finally:
        await backend.aclose()
        backend.close()


def test_a_worker_on_a_wrong_vhost_exits_1_at_once_like_a_wrong_password() -> None:
    asyncio.run(require_broker())
    url = missing_vhost_url()
    code, err, _ = run_cli(
        "consume",
        "--queue",
        "wrong-vhost",
        env={"BROKERJOBS_BACKEND": "rabbitmq", "BROKERJOBS_RABBITMQ_URL": url},
        timeout=60,  # a worker retrying forever is killed here, and the test fails
    )
    assert code == 1, err
    assert VHOST_SAYS.format(vhost=url.rsplit("/", 1)[1]) in err
    assert "retrying" not in err and "Traceback" not in err, err
    assert "guest:guest" not in err
