"""``import X`` time, measured in a fresh interpreter each run (median over runs)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

SNIPPET = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"

PROJECT_MODULES = ("brokerjobs", "brokerjobs_rabbitmq", "brokerjobs_sqs")
PEER_MODULES = ("celery", "dramatiq", "taskiq", "taskiq_aio_pika")


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
