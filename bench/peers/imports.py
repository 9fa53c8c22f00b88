"""``import X`` time, measured in a fresh interpreter each run (median over runs).

Both venvs get their bytecode compiled first. pip compiles at install time, uv does not
by default, and this machine sets ``PYTHONDONTWRITEBYTECODE=1``: without this step the
project's imports were timed compiling from source (about 250 ms for ``brokerjobs``)
against peers loading ``.pyc`` files. Deployments have bytecode (the Docker image sets
``UV_COMPILE_BYTECODE=1``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

SNIPPET = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"

PROJECT_MODULES = ("brokerjobs", "brokerjobs_rabbitmq", "brokerjobs_sqs")
PEER_MODULES = ("celery", "dramatiq", "taskiq", "taskiq_aio_pika")


def compile_bytecode(python: str, extra: Sequence[str] = ()) -> None:
    """Compile ``python``'s site-packages and ``extra`` source trees to ``.pyc`` files."""
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", purelib, *extra],
        capture_output=True,
        timeout=600,
        check=False,  # a few third-party test files do not compile; the rest is written
    )


def import_seconds(python: str, module: str, env: Mapping[str, str]) -> float:
    """Seconds ``import module`` takes in a new ``python`` process."""
    done = subprocess.run(
        [python, "-c", SNIPPET.format(module=module)],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=60,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])
