"""The contract suite, unchanged, through a ``redis+sentinel://`` URL (private group)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.redis_sentinel import SentinelGroup, private_sentinel
from tests.integration.redis_backend.suites import CONTRACT, SuiteTest, run_suite_test

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def sentinel_group() -> Iterator[SentinelGroup]:
    with private_sentinel() as group:
        yield group


@pytest.mark.parametrize("contract_test", CONTRACT, ids=lambda test: test.__name__)
async def test_contract_through_sentinel(
    sentinel_group: SentinelGroup, contract_test: SuiteTest
) -> None:
    await run_suite_test(contract_test, sentinel_group.url)
