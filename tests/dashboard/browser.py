"""A real dashboard, worker and headless Chromium for the browser tests.

Chromium is Debian's ``chromium`` package (``.ci/services`` installs it), driven by
Playwright through ``executable_path``: nothing is downloaded at test time. When it is
missing the test fails and says how to install it. Screenshots go to
``test-artifacts/dashboard/<backend>/`` (``$BROKERJOBS_TEST_ARTIFACTS`` overrides).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.cli.conftest import Started
from tests.dashboard.support import TOKEN
from tests.support.harness import BackendHarness

ROOT = Path(__file__).resolve().parents[2]
EXECUTABLE = Path(sys.executable).with_name("brokerjobs")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
APP = "tests.dashboard.app"
T = TypeVar("T")


def artifacts_dir(backend: str) -> Path:
    base = Path(os.environ.get("BROKERJOBS_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    path = base / "dashboard" / backend
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Stack:
    """One backend's dashboard and worker processes, run by the ``brokerjobs`` command."""

    harness: BackendHarness
    workdir: Path
    port: int = field(default_factory=free_port)
    running: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.harness.subprocess_env(),
            "BROKERJOBS_DASHBOARD_TOKEN": TOKEN,
            "BROKERJOBS_DASHBOARD_SAMPLE_INTERVAL": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [str(EXECUTABLE), *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, *args: str) -> Started:
        process = subprocess.Popen(
            [str(EXECUTABLE), *args],
            env=self.env,
            cwd=self.workdir,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.running.append(process)
        return Started(process)

    def dispatch(self, job: str, payload: dict[str, str]) -> str:
        return self.run("dispatch", job, "--app", APP, "--payload", json.dumps(payload)).strip()

    def worker(self, queue: str) -> Started:
        return self.start("consume", "--app", APP, "--queue", queue)

    def dashboard(self, *queues: str, extra: tuple[str, ...] = ()) -> Started:
        started = self.start(
            "dashboard", "--app", APP, "--queue", ",".join(queues), "--port", str(self.port), *extra
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if started.process.poll() is not None:
                raise AssertionError(f"dashboard exited: {started.process.stderr.read()}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(self.url + "/static/dashboard.css", timeout=2):
                    return started
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the dashboard did not answer within 60 s")

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on a loop of its own thread: Playwright's sync API owns this one."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def make_stack(harness_class: type[BackendHarness], tmp_path: Path) -> Iterator[Stack]:
    harness = harness_class()
    stack = Stack(harness, tmp_path)
    try:
        yield stack
    finally:
        stack.stop_all()
        run_apart(harness.aclose())
