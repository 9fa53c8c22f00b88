"""Harness for the SQS backend: a moto server over real HTTP, or BROKERJOBS_SQS_ENDPOINT_URL.

Without ``BROKERJOBS_SQS_ENDPOINT_URL`` a ``ThreadedMotoServer`` is started on 127.0.0.1 (a
free port) the first time a test needs it and serves the whole session, with dummy
credentials passed explicitly (the user's AWS environment is never used against it).
With the variable set (ElasticMQ, LocalStack, real AWS) the standard credential chain and
region apply. Every test gets its own queue-name prefix; ``aclose`` deletes its queues.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

import boto3
import pytest
from brokerjobs_sqs import SQSBackend

from brokerjobs.backend import Backend
from tests.support.harness import BackendHarness

_server_lock = threading.Lock()
_server_url: str | None = None
_DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region": "us-east-1"}


def _moto_url() -> str:
    global _server_url
    with _server_lock:
        if _server_url is None:
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            _server_url = f"http://{host}:{port}"
        return _server_url


def connection_options() -> dict[str, Any]:
    """Endpoint and credentials the tests use (a private moto server unless told otherwise)."""
    external = os.environ.get("BROKERJOBS_SQS_ENDPOINT_URL")
    if external:
        return {"endpoint_url": external}
    return {"endpoint_url": _moto_url(), **_DUMMY}


def raw_client() -> Any:
    """A plain boto3 SQS client on the same endpoint, for checks behind the backend's back."""
    options = dict(connection_options())
    region = options.pop("region", None) or os.environ.get("BROKERJOBS_SQS_REGION")
    return boto3.client("sqs", region_name=region, **options)


class SQSHarness(BackendHarness):
    """Short leases so crashes show quickly: visibility 2 s, long polls of 1 s."""

    name = "sqs"
    visibility_timeout = 2
    # A crashed consumer's message returns after its 2 s visibility, seen by a poll that
    # wakes at most a second later (moto's long-poll granularity).
    redelivery_timeout = 6.0
    # Integer DelaySeconds/VisibilityTimeout plus moto's 1 s long-poll granularity.
    timing_tolerance = 2.0

    def __init__(self) -> None:
        super().__init__()
        self.backends: list[SQSBackend] = []

    def options(self, **overrides: Any) -> dict[str, Any]:
        return {
            **connection_options(),
            "queue_prefix": "",
            "visibility_timeout": self.visibility_timeout,
            "wait_time": 1,
            "auto_create": True,
            **overrides,
        }

    def subprocess_env(self) -> dict[str, str]:
        """Environment for a ``brokerjobs consume`` child on this test's endpoint and names."""
        return {
            "BROKERJOBS_BACKEND": self.name,
            "BROKERJOBS_BACKEND_OPTIONS": json.dumps(self.options()),
        }

    async def new_backend(self, **overrides: Any) -> Backend:
        return self.sqs_backend(**overrides)

    def sqs_backend(self, **overrides: Any) -> SQSBackend:
        """A typed :meth:`new_backend` taking setting overrides (and ``clock``)."""
        backend = SQSBackend.from_options(**self.options(**overrides))
        self.backends.append(backend)
        return backend

    async def crash(self, backend: Backend) -> None:
        assert isinstance(backend, SQSBackend)
        backend.abandon()

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()
            backend.close()
        client = raw_client()
        try:
            urls = client.list_queues(QueueNamePrefix=self.prefix).get("QueueUrls", [])
            for url in urls:
                client.delete_queue(QueueUrl=url)
        finally:
            client.close()


HARNESS = SQSHarness
MARKS = [pytest.mark.sqs]
