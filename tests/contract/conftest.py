"""Fixtures for the contract suite: a declared queue on a fresh backend of each kind."""

from __future__ import annotations

import uuid

import pytest

from brokerjobs.backend import Backend, OutgoingMessage
from tests.support.harness import BackendHarness


@pytest.fixture
async def backend(harness: BackendHarness) -> Backend:
    return await harness.new_backend()


@pytest.fixture
async def queue(harness: BackendHarness, backend: Backend) -> str:
    name = harness.queue("work")
    await backend.declare(name)
    return name


def message(body: bytes | None = None, *, delay: float = 0.0, priority: int = 0) -> OutgoingMessage:
    """A message with a fresh id; the body defaults to something naming it."""
    message_id = uuid.uuid4().hex
    return OutgoingMessage(
        body=body if body is not None else f'{{"id":"{message_id}"}}'.encode(),
        message_id=message_id,
        delay=delay,
        priority=priority,
    )
