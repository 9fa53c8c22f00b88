"""``brokerjobs new job``: the skeleton and its test work as generated."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.conftest import Cli


@pytest.mark.parametrize("flags", [[], ["--async"]], ids=["sync", "async"])
def test_generated_job_and_test_pass(cli: Cli, flags: list[str]) -> None:
    result = cli("new", "job", "SendWelcomeEmail", "--dir", "myservice/jobs", *flags)
    assert result.code == 0, result.err
    job_file = cli.cwd / "myservice" / "jobs" / "send_welcome_email.py"
    test_file = cli.cwd / "tests" / "test_send_welcome_email.py"
    assert job_file.exists() and test_file.exists()
    assert ("async def run" in job_file.read_text()) == bool(flags)
    assert "from myservice.jobs.send_welcome_email import SendWelcomeEmail" in test_file.read_text()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=cli.cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**cli.env, "PYTHONPATH": str(cli.cwd)},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    again = cli("new", "job", "SendWelcomeEmail", "--dir", "myservice/jobs")
    assert again.code == 1 and "already exists" in again.err


def test_invalid_name_is_a_usage_error(cli: Cli) -> None:
    result = cli("new", "job", "2fast")
    assert result.code == 2
