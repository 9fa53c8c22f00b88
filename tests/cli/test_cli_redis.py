"""The ``dlq`` and ``stats`` commands on the real Redis: the SQLite scenarios, unchanged."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import test_cli_dlq
from tests.cli.conftest import Cli
from tests.support.backend_redis import URL, delete_keys, require_redis

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_cli(tmp_path: Path) -> Iterator[Cli]:
    """``brokerjobs`` pointed at the shared Redis under a key prefix of its own."""
    require_redis()
    prefix = f"cli{uuid.uuid4().hex[:8]}:"
    runner = Cli(tmp_path)
    runner.env.update(
        {
            "BROKERJOBS_BACKEND": "redis",
            "BROKERJOBS_REDIS_URL": URL,
            "BROKERJOBS_REDIS_PREFIX": prefix,
            "BROKERJOBS_BACKEND_OPTIONS": json.dumps({"poll_interval": 0.05}),
        }
    )
    yield runner
    runner.stop_all()
    delete_keys(URL, prefix)


def test_list_show_replay_purge(redis_cli: Cli) -> None:
    test_cli_dlq.test_list_show_replay_purge(redis_cli)


def test_replay_everything_with_a_progress_bar(redis_cli: Cli) -> None:
    test_cli_dlq.test_replay_everything_with_a_progress_bar(redis_cli)
