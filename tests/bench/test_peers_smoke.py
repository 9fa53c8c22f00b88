"""``python -m bench.peers`` runs end to end at a tiny N (brokerjobs and the raw clients).

Peers (Celery, Dramatiq, Taskiq) need bench/.venv-peers, which the command creates from
PyPI; they are left out here to keep CI offline-safe and fast. Figures are not checked:
at this N they measure nothing, only that every phase produced one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, systems: str) -> dict[str, Any]:
    output = tmp_path / "smoke.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.peers",
            "--smoke",
            "--no-imports",
            "--systems",
            systems,
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(output.read_text())
    assert output.with_suffix(".md").read_text().startswith("### Dispatch throughput")
    return result


def _metrics(result: dict[str, Any], system: str) -> set[str]:
    return {f["metric"] for f in result["figures"] if f["system"] == system}


@pytest.mark.rabbitmq
@pytest.mark.slow
def test_rabbitmq_run_measures_every_phase_and_leaves_no_queue(tmp_path: Path) -> None:
    result = _run(tmp_path, "raw-aiopika,brokerjobs,brokerjobs-sync")
    assert result["problems"] == []
    expected = {"drain", "busy_rss_mb", "idle_rss_mb", "latency_p50_ms", "latency_p99_ms"}
    assert expected | {"dispatch_seq", "dispatch_window"} <= _metrics(result, "raw-aiopika")
    assert expected | {"dispatch_seq", "dispatch_async500", "dispatch_many"} <= _metrics(
        result, "brokerjobs"
    )
    # The sync twin drains (its dispatch is the async system's): every worker figure.
    assert _metrics(result, "brokerjobs-sync") == expected
    assert result["systems"]["brokerjobs-sync"]["job_kind"] == "sync"
    assert result["systems"]["brokerjobs"]["job_kind"] == "async"
    workers = {(f["system"], f["worker"]) for f in result["figures"] if f["metric"] == "drain"}
    assert {w for s, w in workers if s.startswith("brokerjobs")} == {"1p", "2p"}
    assert ("brokerjobs-sync", "2p") in workers
    assert {r["system"] for r in result["ratios"] if r["baseline"] == "raw-aiopika"} == {
        "brokerjobs",
        "brokerjobs-sync",
    }
    report = (tmp_path / "smoke.md").read_text()
    assert "| brokerjobs-sync / 1p (quorum, sync jobs) |" in report
    assert {t["target"] for t in result["targets"]} >= {"idle worker RSS ≤ 60 MB"}
    tool = shutil.which("rabbitmqctl")
    if tool is not None:
        listed = subprocess.run(
            [tool, "list_queues", "-q", "name"], capture_output=True, text=True, check=False
        ).stdout
        assert result["token"] not in listed


@pytest.mark.sqs
@pytest.mark.slow
def test_sqs_run_on_a_private_moto_server(tmp_path: Path) -> None:
    result = _run(tmp_path, "raw-boto3,brokerjobs-sqs,brokerjobs-sqs-sync")
    assert result["problems"] == []
    assert {"dispatch_seq", "dispatch_many", "drain", "latency_p99_ms"} <= _metrics(
        result, "brokerjobs-sqs"
    )
    assert {"drain", "latency_p99_ms", "idle_rss_mb"} <= _metrics(result, "brokerjobs-sqs-sync")
    assert result["systems"]["brokerjobs-sqs-sync"]["job_kind"] == "sync"
    assert {r["baseline"] for r in result["ratios"]} == {"raw-boto3"}
