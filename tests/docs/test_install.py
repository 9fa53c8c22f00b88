"""The README's install-from-source commands work in a fresh virtualenv, without the
packages being on any registry (only their dependencies come from one; uv's cache makes
that fast).

The ``uv pip install`` line is run literally. The ``pip install`` lines name the same
paths; pip itself is not run here (it downloads every dependency again, about a minute).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _install_lines() -> list[str]:
    found = re.search(r"<!-- install-from-source -->\n```bash\n(.*?)^```", README, re.S | re.M)
    assert found, "README.md lost its <!-- install-from-source --> block"
    return [line.split("#", 1)[0].strip() for line in found.group(1).splitlines()]


def test_the_pip_lines_name_the_core_with_each_backend() -> None:
    lines = _install_lines()
    backends = sorted(
        p.name for p in (ROOT / "backends").iterdir() if (p / "pyproject.toml").exists()
    )
    pip_lines = [line for line in lines if line.startswith("pip install")]
    named = {word.removeprefix("./backends/") for line in pip_lines for word in line.split()[3:]}
    assert all(line.split()[2] == "." for line in pip_lines), "every line must name the core"
    assert named == set(backends), f"README install lines cover {named}, backends are {backends}"


@pytest.mark.slow
def test_the_uv_line_installs_core_and_every_backend_into_a_fresh_venv(tmp_path: Path) -> None:
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    [command] = [line for line in _install_lines() if line.startswith("uv pip install")]
    venv = tmp_path / "venv"
    subprocess.run(
        [uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120
    )
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    result = subprocess.run(
        ["bash", "-c", command.replace("uv ", f"{uv} ", 1)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    python = venv / "bin" / "python"
    check = (
        "from importlib.metadata import entry_points\n"
        "print(sorted(e.name for e in entry_points(group='brokerjobs.backends')))"
    )
    names = subprocess.run([python, "-c", check], capture_output=True, text=True, timeout=120)
    assert names.stdout.strip() == str(
        ["memory", "mysql", "postgres", "rabbitmq", "redis", "sqlite", "sqs"]
    ), names.stderr
    cli = subprocess.run(
        [venv / "bin" / "brokerjobs", "--help"], capture_output=True, text=True, timeout=120
    )
    assert cli.returncode == 0 and "consume" in cli.stdout, cli.stderr
