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
import time
import urllib.request
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.cli.conftest import Cli, Started
from tests.dashboard.support import TOKEN
from tests.support.harness import BackendHarness

ROOT = Path(__file__).resolve().parents[2]
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


def wait_until_serving(url: str, process: subprocess.Popen[Any], timeout: float = 60) -> None:
    """Poll ``url`` until it answers; fail if ``process`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the dashboard exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the dashboard did not answer within {timeout:.0f} s")


@dataclass
class Stack:
    """One backend's dashboard and worker processes, run by the ``brokerjobs`` command."""

    harness: BackendHarness
    workdir: Path
    port: int = field(default_factory=free_port)
    cli: Cli = field(init=False)

    def __post_init__(self) -> None:
        self.cli = Cli(self.workdir)
        self.cli.env = {
            **os.environ,
            **self.harness.subprocess_env(),
            "BROKERJOBS_DASHBOARD_TOKEN": TOKEN,
            "BROKERJOBS_DASHBOARD_SAMPLE_INTERVAL": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def dispatch(self, job: str, payload: dict[str, str]) -> str:
        done = self.cli("dispatch", job, "--app", APP, "--payload", json.dumps(payload))
        assert done.code == 0, done.err
        return done.out.strip()

    def worker(self, queue: str) -> Started:
        return self.cli.start("consume", "--app", APP, "--queue", queue)

    def dashboard(self, *queues: str, extra: tuple[str, ...] = ()) -> Started:
        started = self.cli.start(
            "dashboard", "--app", APP, "--queue", ",".join(queues), "--port", str(self.port), *extra
        )
        wait_until_serving(self.url + "/static/dashboard.css", started.process)
        return started


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
        stack.cli.stop_all()
        run_apart(harness.aclose())
