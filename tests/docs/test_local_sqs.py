"""docs/local-sqs.md works as written: the moto server command, the exports, then a
dispatch and ``brokerjobs stats`` against it, in a shell, from a clean directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults.rabbit_node import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "local-sqs.md").read_text(encoding="utf-8")
JOBS = """
from brokerjobs import Job, JobContext


class SendWelcomeEmail(Job, name="myservice.send-welcome-email", queue="emails"):
    user_id: int

    def run(self, ctx: JobContext) -> None: ...
"""


def _walkthrough() -> list[str]:
    found = re.search(r"<!-- local-sqs-walkthrough -->\n```console\n(.*?)^```", PAGE, re.S | re.M)
    assert found, "docs/local-sqs.md lost its walk-through block"
    return [line.removeprefix("$ ") for line in found.group(1).splitlines()]


@pytest.mark.sqs
@pytest.mark.slow
def test_the_local_sqs_walkthrough_dispatches_to_a_moto_server(tmp_path: Path) -> None:
    [server] = re.findall(r"^\$ (moto_server .*)$", PAGE, re.M)
    port = free_port()
    command = server.replace("-p 5000", f"-p {port}").split()
    bin_dir = Path(sys.executable).parent
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "BROKERJOBS_"))  # only what the page sets
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path)
    with (tmp_path / "moto.log").open("wb") as log:
        moto = subprocess.Popen(
            [str(bin_dir / command[0]), *command[1:]], stdout=log, stderr=log, env=env
        )
    try:
        deadline = time.monotonic() + 60
        while not port_open(port):
            assert moto.poll() is None and time.monotonic() < deadline, "moto_server did not start"
            time.sleep(0.1)
        (tmp_path / "myservice").mkdir()
        (tmp_path / "myservice" / "__init__.py").write_text("")
        (tmp_path / "myservice" / "jobs.py").write_text(JOBS)
        script = "\n".join(_walkthrough()).replace(":5000", f":{port}")
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        [message_id, *stats] = result.stdout.strip().splitlines()
        assert re.fullmatch(r"[0-9a-f]{32}", message_id), result.stdout
        [row] = [line for line in stats if line.split()[:1] == ["emails"]]
        assert row.split()[1] == "1", result.stdout  # one ready message
    finally:
        moto.terminate()
        moto.wait(timeout=30)
