"""``consume --burst`` and ``--max-jobs`` from the command line (issue 14, items 20, 22)."""

from __future__ import annotations

from tests.cli.conftest import Cli


def dispatch_greets(cli: Cli, *names: str) -> None:
    for who in names:
        payload = f'{{"who": "{who}"}}'
        sent = cli("dispatch", "clitest.Greet", "--app", "tests.cli.app", "--payload", payload)
        assert sent.code == 0, sent


def test_consume_burst_runs_what_is_there_and_exits_0(cli: Cli) -> None:
    dispatch_greets(cli, "ada", "bob")
    done = cli("consume", "--app", "tests.cli.app", "--queue", "cli-default", "--burst")
    assert done.code == 0, done
    assert len([line for line in done.out.splitlines() if line.startswith("✔")]) == 2
    assert "queues are drained; stopping" in done.err


def test_consume_max_jobs_alone_exits_0_and_leaves_the_rest(cli: Cli) -> None:
    dispatch_greets(cli, "ada", "bob", "eve")
    done = cli("consume", "--app", "tests.cli.app", "--queue", "cli-default", "--max-jobs", "1")
    assert done.code == 0, done
    assert len([line for line in done.out.splitlines() if line.startswith("✔")]) == 1
    stats = cli("stats", "--queue", "cli-default", "--json")
    assert '"ready": 2' in stats.out, stats
