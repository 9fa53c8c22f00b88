"""``brokerjobs`` commands on SQS (a moto server over HTTP), as a user runs them.

The environment is built from scratch for each run: no AWS variable of the machine or
shared config file leaks in, so what the command sees is exactly what the test sets.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.backend_sqs import SQSHarness, connection_options, raw_client

pytestmark = pytest.mark.sqs

ROOT = Path(__file__).resolve().parents[3]
EXECUTABLE = Path(sys.executable).with_name("brokerjobs")


def sqs_env(harness: SQSHarness, **extra: str) -> dict[str, str]:
    """The variables a user sets for SQS on a local endpoint, without a region unless given."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROKERJOBS_"))}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "BROKERJOBS_BACKEND": "sqs",
        "BROKERJOBS_SQS_ENDPOINT_URL": connection_options()["endpoint_url"],
        "BROKERJOBS_SQS_QUEUE_PREFIX": f"{harness.prefix}-",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **extra,
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXECUTABLE), *args], env=env, capture_output=True, text=True, timeout=120
    )


def queues_named(prefix: str) -> list[str]:
    client = raw_client()
    try:
        return sorted(client.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []))
    finally:
        client.close()


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION", "BROKERJOBS_SQS_REGION"])
def test_the_region_comes_from_any_of_the_documented_variables(
    sqs: SQSHarness, variable: str
) -> None:
    env = sqs_env(sqs, **{variable: "us-east-1"})
    assert run(env, "dispatch", "--help").returncode == 0
    created = run(env, "stats", "--queue", "work", "--json")  # missing: refused, not created
    assert "no AWS region" not in created.stderr, created.stderr
    assert "does not exist" in created.stderr, created.stderr


def test_without_a_region_the_error_names_every_variable(sqs: SQSHarness) -> None:
    result = run(sqs_env(sqs), "stats", "--queue", "work")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for variable in ("BROKERJOBS_SQS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        assert variable in result.stderr, result.stderr


def test_reading_commands_never_create_queues(sqs: SQSHarness) -> None:
    env = sqs_env(sqs, AWS_REGION="us-east-1")
    for command in (
        ["stats", "--queue", "typo"],
        ["dlq", "list", "typo"],
        ["dlq", "show", "typo", "abc"],
        ["dlq", "replay", "typo"],
        ["dlq", "purge", "typo", "--yes"],
    ):
        result = run(env, *command)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "queue" in result.stderr and "does not exist" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert queues_named(f"{sqs.prefix}-") == []


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.05)  # poll


def test_a_second_sigterm_stops_at_once_with_exit_1(sqs: SQSHarness, tmp_path: Path) -> None:
    """The first SIGTERM waits for the running job; the second abandons it (redelivered)."""
    env = {**sqs_env(sqs, AWS_REGION="us-east-1"), "BROKERJOBS_SQS_WAIT_TIME": "10"}
    started = tmp_path / "started"
    payload = json.dumps({"started": str(started), "seconds": 30})
    sent = run(env, "dispatch", "clitest.Nap", "--app", "tests.cli.app", "--payload", payload)
    assert sent.returncode == 0, sent.stderr
    log = tmp_path / "worker.err"
    with log.open("w") as err, (tmp_path / "worker.out").open("w") as out:
        worker = subprocess.Popen(
            [str(EXECUTABLE), "consume", "--app", "tests.cli.app", "--queue", "cli-default"],
            env=env,
            stdout=out,
            stderr=err,
        )
    try:
        wait_for(started.exists, "job start")
        worker.send_signal(signal.SIGTERM)
        wait_for(lambda: "SIGTERM received" in log.read_text(), "first SIGTERM handled")
        second = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
        took = time.monotonic() - second
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    assert code == 1, log.read_text()
    assert took < 5, f"exited {took:.1f} s after the second SIGTERM: {log.read_text()}"
    assert "✔" not in (tmp_path / "worker.out").read_text()
