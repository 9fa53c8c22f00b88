from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import brokerjobs
from brokerjobs import config
from brokerjobs.errors import (
    BackendError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    ConfigurationError,
    DispatchError,
    PayloadTooLargeError,
    QueueNotFoundError,
    UnknownBackendError,
)
from brokerjobs.memory import MemoryBackend
from tests.support.harness import receive
from tests.unit.jobs_for_tests import Blob, ResizeImage, SendWelcomeEmail


@pytest.fixture(autouse=True)
def clean_config() -> Iterator[None]:
    config.reset()
    yield
    config.reset()


async def test_dispatch_returns_the_id_and_sends_an_envelope() -> None:
    backend = MemoryBackend()
    message_id = brokerjobs.dispatch(SendWelcomeEmail(user_id=42), backend=backend)
    subscription = await backend.consume(["emails"], prefetch=1)
    delivery = await receive(subscription, timeout=2)
    document = json.loads(delivery.body)
    assert delivery.message_id == message_id == document["id"]
    assert document["job"] == SendWelcomeEmail.job_name
    assert document["payload"] == {"user_id": 42}
    assert document["max_attempts"] == 3
    assert document["queue"] == "emails"


async def test_async_dispatch_with_overrides() -> None:
    backend = MemoryBackend()
    await brokerjobs.dispatch_async(
        ResizeImage(path="a.png"),
        backend=backend,
        queue="images",
        max_attempts=9,
        headers={"correlation-id": "c1"},
    )
    subscription = await backend.consume(["images"], prefetch=1)
    document = json.loads((await receive(subscription, timeout=2)).body)
    assert (document["queue"], document["max_attempts"]) == ("images", 9)
    assert document["headers"]["correlation-id"] == "c1"


async def test_delay_and_eta_set_not_before_and_postpone_delivery() -> None:
    backend = MemoryBackend()
    brokerjobs.dispatch(SendWelcomeEmail(user_id=1), backend=backend, delay=timedelta(hours=1))
    eta = datetime.now(UTC) + timedelta(minutes=5)
    brokerjobs.dispatch(SendWelcomeEmail(user_id=2), backend=backend, eta=eta)
    stats = await backend.stats("emails")
    assert (stats.ready, stats.delayed) == (0, 2)


def test_bad_dispatch_arguments_are_clear_errors() -> None:
    backend = MemoryBackend()
    job = SendWelcomeEmail(user_id=1)
    with pytest.raises(DispatchError, match="either delay or eta"):
        brokerjobs.dispatch(job, backend=backend, delay=1, eta=datetime.now(UTC))
    with pytest.raises(DispatchError, match="timezone-aware"):
        brokerjobs.dispatch(job, backend=backend, eta=datetime.now())
    with pytest.raises(DispatchError, match=">= 0 seconds"):
        brokerjobs.dispatch(job, backend=backend, delay=-1)
    with pytest.raises(DispatchError, match="takes a Job instance"):
        brokerjobs.dispatch({"user_id": 1}, backend=backend)  # type: ignore[arg-type]


def test_oversized_payload_fails_at_dispatch_naming_the_limit() -> None:
    backend = MemoryBackend(max_message_size=1000)
    with pytest.raises(PayloadTooLargeError, match=r"over the limit of 1000 bytes") as info:
        brokerjobs.dispatch(Blob(data="x" * 2000), backend=backend)
    assert info.value.limit == 1000
    config.configure(max_message_size=500)
    with pytest.raises(PayloadTooLargeError, match="limit of 500 bytes"):
        brokerjobs.dispatch(Blob(data="x" * 600), backend=MemoryBackend())


def test_unknown_backend_lists_installed_ones_and_the_install_command() -> None:
    with pytest.raises(UnknownBackendError) as info:
        brokerjobs.dispatch(SendWelcomeEmail(user_id=1), backend="kafka")
    message = str(info.value)
    assert "memory" in message
    assert "brokerjobs ships no backend of that name" in message
    assert "brokerjobs[kafka]" not in message  # no such extra: installing it would fail


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("rabbitmqq", "unknown backend 'rabbitmqq'; did you mean rabbitmq?"),
        ("sqlit", "unknown backend 'sqlit'; did you mean sqlite?"),
        ("Memory", "unknown backend 'Memory'; did you mean memory?"),
    ],
)
def test_a_typo_of_a_backend_name_gets_did_you_mean(name: str, says: str) -> None:
    error = UnknownBackendError(name, ["memory", "sqlite"])
    assert str(error).startswith(says) and "pip install" not in str(error)


def test_a_shipped_backend_that_is_not_installed_gets_its_install_command() -> None:
    error = UnknownBackendError("rabbitmq", ["memory", "sqlite"])
    assert 'pip install "brokerjobs[rabbitmq]"' in str(error)


async def test_dispatch_many_batches_per_queue_and_keeps_order() -> None:
    backend = MemoryBackend()
    jobs = [SendWelcomeEmail(user_id=i) for i in range(5)] + [ResizeImage(path="p")]
    ids = brokerjobs.dispatch_many(jobs, backend=backend)
    assert len(ids) == len(set(ids)) == 6
    assert (await backend.stats("emails")).ready == 5
    assert (await backend.stats("default")).ready == 1
    more = await brokerjobs.dispatch_many_async(jobs[:2], backend=backend, queue="other")
    assert len(more) == 2
    assert (await backend.stats("other")).ready == 2


def test_named_backend_comes_from_configuration_and_is_cached_per_process() -> None:
    config.configure(backend="memory")
    first = brokerjobs.get_backend()
    assert isinstance(first, MemoryBackend)
    assert brokerjobs.get_backend("memory") is first
    instance = MemoryBackend()
    config.configure(backend=instance)
    assert brokerjobs.get_backend() is instance


def test_environment_selects_the_default_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKERJOBS_BACKEND", "memory")
    config.reset()
    assert config.settings().backend == "memory"
    assert isinstance(brokerjobs.get_backend(), MemoryBackend)


class _FlakyBackend(MemoryBackend):
    """Refuses the first ``failures`` publishes as a dropped connection would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    def publish_sync(self, queue: str, message: brokerjobs.OutgoingMessage) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise BrokerUnavailableError("connection reset")
        super().publish_sync(queue, message)


def test_dispatch_retries_transient_errors_then_raises() -> None:
    config.configure(dispatch_retry_backoff=0.0, dispatch_retries=2)
    recovering = _FlakyBackend(failures=2)
    brokerjobs.dispatch(SendWelcomeEmail(user_id=1), backend=recovering)
    assert recovering.calls == 3
    down = _FlakyBackend(failures=10)
    with pytest.raises(BrokerUnavailableError, match="connection reset"):
        brokerjobs.dispatch(SendWelcomeEmail(user_id=1), backend=down)
    assert down.calls == 3


class _FailingBackend(MemoryBackend):
    """Raises ``error`` on every publish, sync and async, single and batch."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.calls = 0

    def publish_sync(self, queue: str, message: brokerjobs.OutgoingMessage) -> None:
        self.calls += 1
        raise self.error

    async def publish(self, queue: str, message: brokerjobs.OutgoingMessage) -> None:
        self.calls += 1
        raise self.error

    def publish_batch_sync(self, queue: str, messages: object) -> None:
        raise self.error

    async def publish_batch(self, queue: str, messages: object) -> None:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [BackendError("unexpected error from the broker"), ConfigurationError("no AWS region")],
)
async def test_every_error_dispatch_raises_is_a_dispatch_error(error: Exception) -> None:
    backend = _FailingBackend(error)
    for send in (
        lambda: brokerjobs.dispatch(SendWelcomeEmail(user_id=1), backend=backend),
        lambda: brokerjobs.dispatch_many([SendWelcomeEmail(user_id=1)], backend=backend),
    ):
        with pytest.raises(DispatchError, match=str(error)) as caught:
            send()
        assert caught.value.__cause__ is error
    for asend in (
        lambda: brokerjobs.dispatch_async(SendWelcomeEmail(user_id=1), backend=backend),
        lambda: brokerjobs.dispatch_many_async([SendWelcomeEmail(user_id=1)], backend=backend),
    ):
        with pytest.raises(DispatchError, match=str(error)) as caught:
            await asend()
        assert caught.value.__cause__ is error
    assert issubclass(QueueNotFoundError, DispatchError)  # keeps its own type, too


def test_a_broker_timeout_is_not_retried() -> None:
    """The caller already waited the backend's whole timeout once."""
    config.configure(dispatch_retry_backoff=0.0, dispatch_retries=3)
    backend = _FailingBackend(BrokerTimeoutError("no answer within 10 s"))
    with pytest.raises(BrokerTimeoutError):
        brokerjobs.dispatch(SendWelcomeEmail(user_id=1), backend=backend)
    assert backend.calls == 1


def test_forked_child_builds_its_own_backend() -> None:
    import os

    config.configure(backend="memory")
    parent = brokerjobs.get_backend()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report whether it got a fresh instance
        os.write(write, b"1" if brokerjobs.get_backend() is not parent else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
