"""Dashboard tests run on memory, SQLite and RabbitMQ (API) and SQLite, RabbitMQ (browser)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from brokerjobs.backend import Backend
from tests.dashboard.browser import CHROMIUM, CHROMIUM_ARGS
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


@pytest.fixture(
    scope="module"
)  # Playwright runs a loop here: async tests of other modules need it gone
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(
            "Chromium is not installed: run `bash .ci/services` (or `apt-get install -y "
            "chromium`); the browser tests use the distribution's package, no download",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    try:
        yield tab
    finally:
        context.close()
