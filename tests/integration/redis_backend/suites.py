"""The shared suites' test functions, run by hand against private Redis deployments.

The contract and worker suites are parametrized over the harnesses in tests/support,
all on the shared server; a cluster or a Sentinel group lives only as long as one test
module. :func:`run_suite_test` calls one of the suites' test functions with the fixtures
it names, made for such a deployment, so the suites run there unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

from tests.contract import (
    test_dead_letters,
    test_delays_and_stats,
    test_publish_consume,
    test_redelivery_and_retry,
)
from tests.support.backend_redis import RedisHarness
from tests.worker import (
    test_bad_messages,
    test_hooks,
    test_outcomes,
    test_priority,
    test_shutdown,
    test_time_limits,
)

SuiteTest = Callable[..., Awaitable[None]]


def _tests(*modules: object) -> list[SuiteTest]:
    return [
        test
        for module in modules
        for name, test in sorted(vars(module).items())
        if name.startswith("test_")
        and inspect.iscoroutinefunction(test)
        and "kind" not in inspect.signature(test).parameters  # parametrized: shared server
    ]


CONTRACT = _tests(test_publish_consume, test_redelivery_and_retry, test_delays_and_stats,
                  test_dead_letters)  # fmt: skip
WORKER = _tests(test_outcomes, test_priority, test_shutdown, test_time_limits,
                test_bad_messages, test_hooks)  # fmt: skip


class PrivateHarness(RedisHarness):
    """The Redis harness on a private deployment (private: nothing to clean after)."""

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__()
        self.url = url
        self.extra = options

    def options(self) -> dict[str, Any]:
        return {**super().options(), "url": self.url, **self.extra}

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()
            backend.close()
        self.backends.clear()


async def run_suite_test(test: SuiteTest, url: str, **options: Any) -> None:
    """Call ``test`` with the fixtures it names (harness, backend, queue, token)."""
    harness = PrivateHarness(url, **options)
    try:
        backend = await harness.new_backend()
        queue = harness.queue("work")
        await backend.declare(queue)
        offered = {"harness": harness, "backend": backend, "queue": queue, "token": uuid4().hex}
        await test(**{name: offered[name] for name in inspect.signature(test).parameters})
    finally:
        await harness.aclose()
