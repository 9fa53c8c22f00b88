"""The peers' own environment, ``bench/.venv-peers``, created idempotently with uv.

Peers never enter the project's environment: Celery, Dramatiq and Taskiq (and the
profilers) live here, pinned so every run compares the same versions.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parents[1] / ".venv-peers"
PINNED = (
    "celery[sqs]==5.7.0",
    "kombu==5.7.0",
    "dramatiq[rabbitmq]==2.2.1",
    "taskiq==0.13.0",
    "taskiq-aio-pika==0.6.1",
    "pika==1.4.4",
    "aio-pika==10.2.1",
    "py-spy==0.4.3",
    "pyinstrument==5.1.3",
)
STAMP = PEERS_DIR / ".bench-pins"


def peers_python() -> str:
    """The peers venv's interpreter, creating or updating the venv when the pins changed."""
    python = PEERS_DIR / "bin" / "python"
    wanted = "\n".join(PINNED)
    if python.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return str(python)
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is needed to create bench/.venv-peers: pip install uv")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if not python.exists():
        subprocess.run([uv, "venv", "--quiet", "--python", version, str(PEERS_DIR)], check=True)
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), *PINNED], check=True)
    STAMP.write_text(wanted)
    return str(python)
