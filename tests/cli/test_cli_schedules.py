"""``brokerjobs scheduler``, ``brokerjobs schedule list`` and ``consume --with-scheduler``."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request

import pytest

from tests.cli.conftest import Cli, one_line_error
from tests.faults.rabbit_node import free_port

APP = "tests.cli.schedule_app"


@pytest.fixture
def memory(cli: Cli) -> Cli:
    """The CLI on the in-memory backend (one process: its scheduler and worker share it)."""
    cli.env["BROKERJOBS_BACKEND"] = "memory"
    cli.env.pop("BROKERJOBS_BACKEND_OPTIONS", None)
    return cli


def test_schedule_list_shows_every_schedule_with_its_next_ticks(memory: Cli) -> None:
    result = memory("schedule", "list", "--app", APP, "--next", "2")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("ticks claimed by in-process")
    assert "beat  every 1 s  misfire=once" in lines
    assert "nightly-report  cron 30 2 * * * Europe/Berlin  misfire=once" in lines
    nightly = lines.index("nightly-report  cron 30 2 * * * Europe/Berlin  misfire=once")
    upcoming = lines[nightly + 1].removeprefix("  next: ").split(", ")
    assert len(upcoming) == 2 and all("T02:30:00+0" in tick for tick in upcoming)
    assert lines[nightly + 2] == "  last dispatched tick: never"


def test_sqlite_claims_ticks_in_its_own_store(cli: Cli) -> None:
    result = cli("schedule", "list", "--app", APP)  # SQLite, no BROKERJOBS_STORE
    assert result.code == 0, result.err
    assert result.out.splitlines()[0].startswith("ticks claimed by store (SQLiteStore)")


def test_a_store_that_cannot_be_found_is_a_one_line_error(cli: Cli) -> None:
    cli.env["BROKERJOBS_STORE"] = "no-such-store"
    result = cli("scheduler", "--app", APP)
    assert result.code in (1, 2)
    one_line_error(result)
    assert "no-such-store" in result.err


def test_consume_with_scheduler_runs_the_ticks_it_dispatches(memory: Cli) -> None:
    worker = memory.start("consume", "--app", APP, "--queue", "sched", "--with-scheduler")
    lines = worker.next_lines(2, timeout=60)
    assert all(line.startswith("✔ beat@") and "Beat (sched)" in line for line in lines), lines
    code, err = worker.stop(signal.SIGTERM)
    assert code == 0, err


def test_without_the_flag_consume_dispatches_nothing(memory: Cli) -> None:
    worker = memory.start("consume", "--app", APP, "--queue", "sched")
    try:
        worker.next_lines(1, timeout=3)
    except AssertionError:
        pass
    else:
        raise AssertionError("consume without --with-scheduler ran a scheduled job")
    finally:
        worker.stop(signal.SIGTERM)


def test_the_scheduler_serves_healthz_while_its_tick_loop_runs(memory: Cli) -> None:
    port = free_port()
    scheduler = memory.start("scheduler", "--app", APP, "--metrics-port", str(port))
    deadline = time.monotonic() + 60
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                body = json.loads(answer.read())
                break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    code, err = scheduler.stop(signal.SIGTERM)
    assert body.get("status") == "ok", (body, err)
    assert float(str(body["loop_stalled_seconds"])) < 10
    assert code == 0, err


@pytest.mark.parametrize("command", [["scheduler"], ["schedule"], ["schedule", "list"]])
def test_the_schedule_commands_have_help(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.code == 0, result.err
    assert result.out.startswith("Usage: brokerjobs")


def test_consume_help_lists_with_scheduler_off_by_default(cli: Cli) -> None:
    result = cli("consume", "--help")
    assert "--with-scheduler" in result.out
