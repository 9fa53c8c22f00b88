"""A description of the machine and software a run measured, stored with the figures."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PACKAGES = (
    "brokerjobs",
    "pika",
    "aio-pika",
    "aiormq",
    "boto3",
    "moto",
    "celery",
    "kombu",
    "amqp",
    "dramatiq",
    "taskiq",
    "taskiq-aio-pika",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def _rabbitmq_version() -> str:
    tool = shutil.which("rabbitmqctl")
    if tool is None:
        return "unknown"
    done = subprocess.run([tool, "version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def versions(python: str, names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` in the environment of ``python``."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run([python, "-c", code, *names], capture_output=True, text=True, check=False)
    try:
        result: dict[str, str] = json.loads(done.stdout)
    except ValueError:
        return {}
    return result


def describe(pythons: Mapping[str, str]) -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "rabbitmq": _rabbitmq_version(),
        "versions": {venv: versions(python) for venv, python in pythons.items()},
    }


def load() -> list[float]:
    """1, 5 and 15 minute load averages (the machine is shared: noisy if high)."""
    return [round(x, 2) for x in os.getloadavg()]
