"""Fixtures for the SQS integration tests: a harness (moto over HTTP) per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from brokerjobs.backend import OutgoingMessage
from tests.support.backend_sqs import SQSHarness


@pytest.fixture
async def sqs() -> AsyncIterator[SQSHarness]:
    harness = SQSHarness()
    try:
        yield harness
    finally:
        await harness.aclose()


def message(body: bytes | None = None, *, delay: float = 0.0) -> OutgoingMessage:
    """A message with a fresh id; the body names it unless given."""
    message_id = uuid.uuid4().hex
    return OutgoingMessage(
        body=body if body is not None else f'{{"id":"{message_id}"}}'.encode(),
        message_id=message_id,
        delay=delay,
    )
