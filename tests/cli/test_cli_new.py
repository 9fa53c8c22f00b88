"""``brokerjobs new job``: the skeleton and its test work as generated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


@pytest.mark.parametrize("flags", [[], ["--dir", "myservice/jobs"]], ids=["here", "package"])
def test_plain_pytest_runs_the_generated_test(cli: Cli, flags: list[str]) -> None:
    # The walk-through: `brokerjobs new job SendMail`, then `pytest`: not
    # `python -m pytest` (which adds the current directory to sys.path by itself).
    result = cli("new", "job", "SendMail", *flags)
    assert result.code == 0, result.err
    env = {key: value for key, value in cli.env.items() if key != "PYTHONPATH"}
    pytest_script = Path(sys.executable).with_name("pytest")
    run = subprocess.run(
        [str(pytest_script), "-q", "-p", "no:cacheprovider"],
        cwd=cli.cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert "created conftest.py" in result.out
    again = cli("new", "job", "SendOtherMail", *flags)
    assert again.code == 0 and "conftest.py" not in again.out  # never overwritten
