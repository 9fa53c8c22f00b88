"""Help, exit codes and one-line errors of the real ``brokerjobs`` executable."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli, one_line_error

COMMANDS = [
    [],
    ["consume"],
    ["dispatch"],
    ["stats"],
    ["dlq"],
    ["dlq", "list"],
    ["dlq", "show"],
    ["dlq", "replay"],
    ["dlq", "purge"],
    ["new"],
    ["new", "job"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "main")
def test_every_command_has_help(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.code == 0
    assert result.out.startswith("Usage: brokerjobs")


def test_invalid_json_payload_is_a_usage_error(cli: Cli) -> None:
    result = cli("dispatch", "clitest.Greet", "--app", "tests.cli.app", "--payload", "{who")
    assert result.code == 2
    one_line_error(result)
    assert "--payload: not valid JSON" in result.err


def test_payload_is_validated_against_the_job_model_before_sending(cli: Cli) -> None:
    result = cli("dispatch", "Greet", "--app", "tests.cli.app", "--payload", '{"who": 3}')
    assert result.code == 2
    one_line_error(result)
    assert "invalid for clitest.Greet: who: Input should be a valid string" in result.err
    stats = cli("stats", "--queue", "cli-default", "--json")
    assert json.loads(stats.out)["queues"][0]["ready"] == 0


def test_unknown_job_and_unknown_backend_are_usage_errors(cli: Cli) -> None:
    unknown_job = cli("dispatch", "NoSuchJob", "--payload", "{}")
    assert unknown_job.code == 2
    one_line_error(unknown_job)
    unknown_backend = cli("stats", "--backend", "kafka")
    assert unknown_backend.code == 2
    one_line_error(unknown_backend)
    assert "installed backends:" in unknown_backend.err and "memory" in unknown_backend.err


def test_unreachable_broker_is_one_line_and_exit_1(cli: Cli) -> None:
    cli.env["BROKERJOBS_DISPATCH_RETRIES"] = "0"
    cli.env["BROKERJOBS_RABBITMQ_URL"] = "amqp://guest:secret@127.0.0.1:1/"
    result = cli(
        "dispatch",
        "clitest.Greet",
        "--app",
        "tests.cli.app",
        "--payload",
        '{"who": "x"}',
        "--backend",
        "rabbitmq",
    )
    assert result.code == 1
    one_line_error(result)
    assert "secret" not in result.err


def test_dispatch_prints_the_message_id_and_stats_count_it(cli: Cli) -> None:
    result = cli("dispatch", "tests.cli.app.Greet", "--payload", '{"who": "ada"}', "--delay", "60")
    assert result.code == 0, result.err
    assert len(result.out.strip()) == 32
    table = cli("stats", "--app", "tests.cli.app")
    assert table.code == 0
    header, row = table.out.splitlines()
    assert header.split()[:3] == ["QUEUE", "READY", "IN"]
    assert row.split()[:5] == ["cli-default", "0", "0", "1", "0"]


def test_stats_watch_refreshes_until_interrupted(cli: Cli) -> None:
    import signal

    cli("dispatch", "tests.cli.app.Greet", "--payload", '{"who": "ada"}')
    watcher = cli.start("stats", "--queue", "cli-default", "--watch", "--json", "--interval", "0.2")
    first, second = watcher.next_lines(2)
    code, err = watcher.stop(signal.SIGINT)
    assert code == 0, err
    for line in (first, second):
        assert json.loads(line)["queues"][0]["ready"] == 1
