"""CLI tests run the real ``brokerjobs`` executable against a SQLite file per test."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXECUTABLE = Path(sys.executable).with_name("brokerjobs")


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    """Runs ``brokerjobs`` with an environment pointing at this test's SQLite file."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "jobs.db"
        self.cwd = tmp_path
        self.env = {
            **os.environ,
            "BROKERJOBS_BACKEND": "sqlite",
            "BROKERJOBS_SQLITE_PATH": str(self.path),
            "BROKERJOBS_BACKEND_OPTIONS": '{"poll_interval": 0.05}',
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self._running: list[subprocess.Popen[str]] = []

    def __call__(self, *args: str, input: str | None = None, timeout: float = 60) -> Result:
        done = subprocess.run(
            [str(EXECUTABLE), *args],
            env=self.env,
            cwd=self.cwd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def start(self, *args: str) -> Started:
        process = subprocess.Popen(
            [str(EXECUTABLE), *args],
            env=self.env,
            cwd=self.cwd,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._running.append(process)
        return Started(process)

    def stop_all(self) -> None:
        for process in self._running:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(10)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path)
    yield runner
    runner.stop_all()


def one_line_error(result: Result) -> None:
    """A user mistake: one ``Error:`` line on stderr and no traceback."""
    assert "Traceback" not in result.err + result.out
    errors = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.err


class Started:
    """A running ``brokerjobs`` process whose stdout lines are collected by a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_lines(self, count: int, timeout: float = 30) -> list[str]:
        """The next ``count`` stdout lines (fails after ``timeout`` seconds)."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            try:
                got.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"got only {got} within {timeout} s") from None
        self.seen += got
        return got

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, str]:
        """Send ``signum`` and return the exit code and stderr."""
        self.process.send_signal(signum)
        code = self.process.wait(timeout)
        assert self.process.stderr is not None
        return code, self.process.stderr.read()


__all__: Sequence[str] = ["Cli", "Result", "Started", "one_line_error"]
