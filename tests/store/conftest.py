"""Parametrizes the store contract suite over every harness in tests/support/store_*.py."""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from brokerjobs.store import Store
from tests.support.harness_store import StoreHarness

_SUPPORT = Path(__file__).parent.parent / "support"
Found = dict[str, tuple[type[StoreHarness], list[pytest.MarkDecorator]]]


def store_harnesses() -> Found:
    """Every store harness, by name (narrowed by ``BROKERJOBS_TEST_STORES``)."""
    found: Found = {}
    for path in sorted(_SUPPORT.glob("store_*.py")):
        module = importlib.import_module(f"tests.support.{path.stem}")
        marks = getattr(module, "MARKS", {})
        for harness in module.HARNESSES:
            found[harness.name] = (harness, list(marks.get(harness.name, [])))
    wanted = os.environ.get("BROKERJOBS_TEST_STORES")
    if wanted:
        names = [n.strip() for n in wanted.split(",") if n.strip()]
        missing = [n for n in names if n not in found]
        if missing:
            raise pytest.UsageError(f"no store harness for {missing}; have {list(found)}")
        found = {n: found[n] for n in names}
    return found


def _shared(cls: type[StoreHarness]) -> bool:
    return cls.store_spec is not StoreHarness.store_spec


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture, keep in (
        ("store_harness_class", lambda cls: True),
        ("shared_store_harness_class", _shared),  # reachable from other processes
    ):
        if fixture in metafunc.fixturenames:
            params = [
                pytest.param(cls, id=name, marks=marks)
                for name, (cls, marks) in store_harnesses().items()
                if keep(cls)
            ]
            metafunc.parametrize(fixture, params)


@pytest.fixture
async def store_harness(store_harness_class: type[StoreHarness]) -> AsyncIterator[StoreHarness]:
    instance = store_harness_class()
    try:
        yield instance
    finally:
        await instance.aclose()


@pytest.fixture
async def shared_store_harness(
    shared_store_harness_class: type[StoreHarness],
) -> AsyncIterator[StoreHarness]:
    instance = shared_store_harness_class()
    try:
        yield instance
    finally:
        await instance.aclose()


@pytest.fixture
async def store(store_harness: StoreHarness) -> Store:
    return await store_harness.new_store()
