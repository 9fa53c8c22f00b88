"""Dashboard tests run on memory, SQLite and RabbitMQ (API) and SQLite, RabbitMQ (browser)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from brokerjobs.backend import Backend
from tests.support import backend_memory, backend_rabbitmq, backend_sqlite
from tests.support.harness import BackendHarness

API_HARNESSES = [
    pytest.param(module.HARNESS, id=module.HARNESS.name, marks=module.MARKS)
    for module in (backend_memory, backend_sqlite, backend_rabbitmq)
]


@pytest.fixture(params=API_HARNESSES)
async def api_harness(request: pytest.FixtureRequest) -> AsyncIterator[BackendHarness]:
    instance: BackendHarness = request.param()
    try:
        yield instance
    finally:
        await instance.aclose()


@pytest.fixture
async def api_backend(api_harness: BackendHarness) -> Backend:
    return await api_harness.new_backend()
