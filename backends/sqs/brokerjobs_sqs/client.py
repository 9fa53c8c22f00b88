"""The boto3 client and the thread pool its blocking calls run in.

A boto3 client is thread-safe once created, but creating one (and the session behind it)
is not, and neither survives ``fork()``: the client is made lazily under a lock and made
again in a child process.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config

from brokerjobs_sqs.settings import SQSSettings
from brokerjobs_sqs.translate import translated

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

T = TypeVar("T")


class ClientHolder:
    """Owns one SQS client per process and a dedicated thread pool for async callers.

    A dedicated pool keeps long polls (up to 20 s each) from starving the event loop's
    default executor, which other code relies on.
    """

    def __init__(self, settings: SQSSettings) -> None:
        self._settings = settings
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._client: SQSClient | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._hooks: list[tuple[str, Callable[..., Any]]] = []

    def _after_fork_check(self) -> None:
        pid = os.getpid()
        if pid != self._pid:
            # The parent's lock may have been held by another thread at fork time.
            self._lock = threading.Lock()
            self._pid = pid
            self._client = None
            self._executor = None

    @property
    def client(self) -> SQSClient:
        """The process's client, created on first use."""
        self._after_fork_check()
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    with translated("client setup"):
                        self._client = self._make_client()
                client = self._client
        return client

    def register(self, event: str, handler: Callable[..., Any]) -> None:
        """Attach a botocore event hook (``before-call.sqs.*``...), also to future clients."""
        with self._lock:
            self._hooks.append((event, handler))
            if self._client is not None:
                self._client.meta.events.register(event, handler)

    def _make_client(self) -> SQSClient:
        settings = self._settings
        config = Config(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout + settings.wait_time,
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=settings.max_threads,
        )
        secret = settings.aws_secret_access_key
        key = settings.aws_access_key_id
        token = settings.aws_session_token
        session = boto3.session.Session(
            aws_access_key_id=key.get_secret_value() if key else None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            aws_session_token=token.get_secret_value() if token else None,
            region_name=settings.resolved_region(),
        )
        client: SQSClient = session.client("sqs", endpoint_url=settings.endpoint_url, config=config)
        for event, handler in self._hooks:
            client.meta.events.register(event, handler)
        return client

    def _pool(self) -> ThreadPoolExecutor:
        self._after_fork_check()
        executor = self._executor
        if executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        max_workers=self._settings.max_threads, thread_name_prefix="brokerjobs-sqs"
                    )
                executor = self._executor
        return executor

    async def run(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a blocking call in the pool; the caller may be cancelled, the call is not."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool(), functools.partial(func, *args, **kwargs))

    def close(self) -> None:
        """Drop the client and stop the pool without waiting for long polls in flight."""
        with self._lock:
            client, self._client = self._client, None
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        if client is not None:
            client.close()
