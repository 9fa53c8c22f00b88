"""Helpers for subprocess-level worker tests: start real ``brokerjobs consume`` processes.

A child process must reach the test's broker: a harness says how with
``subprocess_env() -> dict[str, str]`` (``BROKERJOBS_BACKEND`` plus the backend's own
variables; ``BROKERJOBS_BACKEND_OPTIONS`` as JSON for options without a variable).
The memory backend cannot cross processes, so these tests skip on it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support.harness import BackendHarness

ROOT = Path(__file__).resolve().parents[2]


def child_env(harness: BackendHarness) -> dict[str, str]:
    """Environment for a worker process using ``harness``'s broker, or skip the test."""
    try:
        extra = harness.subprocess_env()
    except NotImplementedError as exc:
        pytest.skip(str(exc))
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


class WorkerProcess:
    """A ``brokerjobs consume`` child; its stderr goes to a file the test can read."""

    def __init__(self, env: dict[str, str], args: Sequence[str], log: Path) -> None:
        self.log = log
        self._stderr = log.open("ab")
        command = [
            sys.executable,
            "-m",
            "brokerjobs.cli",
            "consume",
            "--app",
            "tests.worker.jobs",
            *args,
        ]
        self.process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=self._stderr, stderr=self._stderr
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self._stderr.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._stderr.close()


def spawn(
    harness: BackendHarness, workers: list[WorkerProcess], tmp_path: Path, *args: str
) -> WorkerProcess:
    """Start ``brokerjobs consume ARGS`` on ``harness``'s broker, logging to ``tmp_path``."""
    worker = WorkerProcess(child_env(harness), args, tmp_path / f"worker-{len(workers)}.log")
    workers.append(worker)
    return worker


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def interrupt_all(workers: Sequence[WorkerProcess]) -> None:
    """Kill every worker, and the children a supervisor started (own process groups)."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.signal(signal.SIGKILL)
        for pid in re.findall(r"worker \d+ started \(pid (\d+)\)", worker.output()):
            if _is_our_worker(int(pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


def _is_our_worker(pid: int) -> bool:
    """Whether ``pid`` is still a worker of this interpreter (not a reused pid)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return command[:1] == [sys.executable.encode()] and b"consume" in command
