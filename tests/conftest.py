"""Parametrizes the shared suites over every backend harness in tests/support/backend_*.py."""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.harness import BackendHarness

_SUPPORT = Path(__file__).parent / "support"


def _harness_classes() -> dict[str, tuple[type[BackendHarness], list[pytest.MarkDecorator]]]:
    found: dict[str, tuple[type[BackendHarness], list[pytest.MarkDecorator]]] = {}
    for path in sorted(_SUPPORT.glob("backend_*.py")):
        module = importlib.import_module(f"tests.support.{path.stem}")
        harness: type[BackendHarness] = module.HARNESS
        found[harness.name] = (harness, list(getattr(module, "MARKS", [])))
    wanted = os.environ.get("BROKERJOBS_TEST_BACKENDS")
    if wanted:
        names = [n.strip() for n in wanted.split(",") if n.strip()]
        missing = [n for n in names if n not in found]
        if missing:
            raise pytest.UsageError(f"no test harness for backend(s) {missing}; have {list(found)}")
        found = {n: found[n] for n in names}
    return found


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "harness_class" in metafunc.fixturenames:
        classes = _harness_classes()
        metafunc.parametrize(
            "harness_class",
            [pytest.param(cls, id=name, marks=marks) for name, (cls, marks) in classes.items()],
        )


@pytest.fixture
async def harness(harness_class: type[BackendHarness]) -> AsyncIterator[BackendHarness]:
    instance = harness_class()
    try:
        yield instance
    finally:
        await instance.aclose()


_BROKER_MARKERS = ("rabbitmq", "sqs", "postgres", "mysql", "sqlite", "dynamodb", "redis")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """In CI a broker test may not skip: a skipped broker test is reported as a failure."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if (
        os.environ.get("CI")
        and report.skipped
        and not hasattr(report, "wasxfail")
        and any(item.get_closest_marker(name) for name in _BROKER_MARKERS)
    ):
        report.outcome = "failed"
        report.longrepr = f"broker test skipped in CI (brokers must be up): {report.longrepr}"
    return None
