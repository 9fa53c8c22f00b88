"""``brokerjobs consume`` end to end: dispatch from the CLI, one line per job, clean exit."""

from __future__ import annotations

import json
import re
import signal
import time

from tests.cli.conftest import Cli, Started

ID = r"[0-9a-f]{8}…"


def test_consume_prints_success_retry_and_dead_letter_lines(cli: Cli) -> None:
    ok = cli("dispatch", "clitest.Greet", "--app", "tests.cli.app", "--payload", '{"who": "ada"}')
    bad = cli(
        "dispatch",
        "clitest.Explode",
        "--app",
        "tests.cli.app",
        "--payload",
        '{"why": "no SMTP server"}',
    )
    assert ok.code == bad.code == 0
    worker = cli.start(
        "consume", "--app", "tests.cli.app", "--queue", "cli-default", "--concurrency", "1"
    )
    lines = worker.next_lines(3)
    code, err = worker.stop()
    assert code == 0, err
    assert re.fullmatch(rf"✔ {ID} Greet \(cli-default\) \d+ ms", lines[0]), lines
    assert re.fullmatch(
        rf"✖ {ID} Explode \(cli-default\) attempt 1/2 — RuntimeError: no SMTP server — "
        r"retry in 100 ms",
        lines[1],
    ), lines
    assert re.fullmatch(
        rf"☠ {ID} Explode \(cli-default\) dead-lettered — attempts exhausted \(2/2\): "
        r"RuntimeError: no SMTP server",
        lines[2],
    ), lines
    assert lines[0].split()[1] == ok.out.strip()[:8] + "…"
    assert "Traceback" not in err
    assert "SIGTERM received" in err


def test_json_log_format_for_containers(cli: Cli) -> None:
    cli("dispatch", "clitest.Greet", "--app", "tests.cli.app", "--payload", '{"who": "bob"}')
    worker = cli.start(
        "consume", "--app", "tests.cli.app", "--queue", "cli-default", "--log-format", "json"
    )
    [line] = worker.next_lines(1)
    code, err = worker.stop(signal.SIGINT)
    assert code == 0
    event = json.loads(line)
    assert event["event"] == "job.succeeded" and event["job"] == "clitest.Greet"
    assert event["queue"] == "cli-default" and event["attempt"] == 1
    assert isinstance(event["duration_ms"], float)
    for log_line in err.strip().splitlines():
        assert json.loads(log_line)["logger"].startswith("brokerjobs")


def test_bad_queue_list_and_bad_app_are_usage_errors(cli: Cli) -> None:
    assert cli("consume", "--queue", " , ").code == 2
    result = cli("consume", "--app", "no_such_module_here")
    assert result.code == 2 and "no_such_module_here" in result.err


def test_metrics_port_serves_health_while_consuming(cli: Cli) -> None:
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    worker = cli.start(
        "consume", "--app", "tests.cli.app", "--queue", "cli-default", "--metrics-port", str(port)
    )
    deadline = time.monotonic() + 30
    status = None
    while status != 200 and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                status = reply.status
        except OSError:
            time.sleep(0.1)  # not listening yet: poll again
    code, err = worker.stop()
    assert status == 200, err
    assert code == 0, err


def _dispatch_one_success_and_one_failure(cli: Cli) -> None:
    args = ("--app", "tests.cli.app", "--payload")
    assert cli("dispatch", "clitest.Greet", *args, '{"who": "ada"}').code == 0
    assert cli("dispatch", "clitest.Explode", *args, '{"why": "no SMTP server"}').code == 0


def test_quiet_leaves_out_successes_but_not_retries_dead_letters_or_logs(cli: Cli) -> None:
    _dispatch_one_success_and_one_failure(cli)
    worker = cli.start(
        "consume", "--app", "tests.cli.app", "--queue", "cli-default", "--concurrency", "1",
        "--quiet",
    )  # fmt: skip
    # Greet runs first (see the test above), so without --quiet its ✔ line would lead.
    lines = worker.next_lines(2)
    code, err = worker.stop()
    assert code == 0, err
    assert [line[0] for line in lines] == ["✖", "☠"], lines
    assert "SIGTERM received" in err


def test_quiet_from_the_environment_in_json_format(cli: Cli) -> None:
    _dispatch_one_success_and_one_failure(cli)
    cli.env["BROKERJOBS_QUIET"] = "1"
    worker = cli.start(
        "consume", "--app", "tests.cli.app", "--queue", "cli-default", "--concurrency", "1",
        "--log-format", "json",
    )  # fmt: skip
    events = [json.loads(line)["event"] for line in worker.next_lines(2)]
    code, err = worker.stop()
    assert code == 0, err
    assert events == ["job.retrying", "job.dead_lettered"]


def worker_running_a_nap(cli: Cli, seconds: float) -> Started:
    """A worker that has started one ``clitest.Nap`` job of ``seconds`` (a sync job)."""
    started = cli.cwd / "nap-started"
    payload = json.dumps({"started": str(started), "seconds": seconds})
    assert cli("dispatch", "clitest.Nap", "--app", "tests.cli.app", "--payload", payload).code == 0
    worker = cli.start("consume", "--app", "tests.cli.app", "--queue", "cli-default")
    deadline = time.monotonic() + 60
    while not started.exists():
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)  # poll: the job touches the file when it starts
    return worker


def test_sigterm_says_how_many_jobs_it_finishes_in_the_right_number(cli: Cli) -> None:
    worker = worker_running_a_nap(cli, 2)
    code, err = worker.stop()
    assert code == 0, err
    assert "SIGTERM received: finishing 1 running job (send it again" in err, err


def test_a_second_sigterm_exits_1_at_once_even_with_a_sync_job_running(cli: Cli) -> None:
    """A sync job's pool thread must not hold the process until the job ends."""
    worker = worker_running_a_nap(cli, 30)
    worker.process.send_signal(signal.SIGTERM)
    second = time.monotonic()
    # SIGINT, not SIGTERM again: two pending signals of one kind may merge into one.
    code, err = worker.stop(signal.SIGINT)
    assert code == 1, err
    assert time.monotonic() - second < 5, err
    assert "stopping now" in err
