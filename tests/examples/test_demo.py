"""The README's main-job command runs end to end: real dispatch, real worker process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.sqlite
def test_readme_demo_dispatches_runs_retries_and_dead_letters() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.count("✔") == 4, output
    assert output.count("✖") == 2, output
    assert output.count("☠") == 1, output
    assert "worker exited with code 0 after SIGTERM" in output
    assert "payments  ready=0 in_flight=0 delayed=0 dead=1" in output
    assert "cannot charge -5 cents" in output
