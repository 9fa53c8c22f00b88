"""The benchmark harness's bookkeeping: probe counters, percentiles, ratios, targets."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from bench.peers import analysis, probe, tables
from bench.peers.stats import percentile, summarize


def test_probe_counts_hits_from_many_threads_and_keeps_latencies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(probe.ENV_DIR, str(tmp_path))
    monkeypatch.setattr(probe, "_recorder", None)

    def hits() -> None:
        for _ in range(250):
            probe.hit(0.0)

    threads = [threading.Thread(target=hits) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    probe.hit(time.time() - 0.5)

    snapshot = probe.read(tmp_path, details=True)
    assert snapshot.count == 1001
    assert [path.name for path in tmp_path.iterdir()] == [f"{os.getpid()}.probe"]
    assert len(snapshot.latencies) == 1
    assert 0.5 <= snapshot.latencies[0] < 5
    assert len(snapshot.marks[0]) == 1001 // probe.STEP
    assert snapshot.first <= snapshot.last


def test_steady_rate_leaves_the_slow_start_out() -> None:
    # 20 marks of 50 jobs: the first mark took 10 s (start-up), then one mark per second.
    marks = [10.0 + i for i in range(20)]
    snapshot = probe.Snapshot(count=1000, first=0.0, last=29.0, marks=[marks])
    assert snapshot.rate == pytest.approx(999 / 29)
    assert snapshot.steady_rate() == pytest.approx((1000 - 150) / (29.0 - 12.0))


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
    assert summarize([3.0, 1.0, 2.0]).as_dict() == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}


def _record(
    system: str, metric: str, value: float, worker: str = "", size: int = 100
) -> dict[str, object]:
    return {"system": system, "worker": worker, "metric": metric, "size": size, "value": value}


def test_ratios_compare_same_metric_on_the_same_broker_and_targets_check_them() -> None:
    records = [
        _record("brokerjobs", "dispatch_seq", 900.0),
        _record("brokerjobs", "dispatch_many", 5000.0),
        _record("raw-pika", "dispatch_seq", 1000.0),
        _record("raw-aiopika", "dispatch_seq", 600.0),
        _record("raw-aiopika", "dispatch_window", 6000.0),
        _record("raw-boto3", "dispatch_seq", 50.0),
        _record("brokerjobs", "latency_p99_ms", 25.0, worker="1p", size=0),
    ]
    figures = analysis.summaries(records)
    kinds = {
        "brokerjobs": "brokerjobs",
        "raw-pika": "raw",
        "raw-aiopika": "raw",
        "raw-boto3": "raw",
    }
    brokers = {
        "brokerjobs": "rabbitmq",
        "raw-pika": "rabbitmq",
        "raw-aiopika": "rabbitmq",
        "raw-boto3": "sqs",
    }
    queue_types = {"brokerjobs": "quorum", "raw-pika": "quorum", "raw-aiopika": "quorum"}
    rows = analysis.ratios(figures, kinds, brokers, queue_types)
    by_pair = {(r["metric"], r["baseline"]): (r["ratio"], r["baseline_metric"]) for r in rows}
    assert by_pair[("dispatch_seq", "raw-pika")] == (pytest.approx(0.9), "dispatch_seq")
    # No window mode of its own: dispatch_many is compared with the baseline's fastest mode.
    assert by_pair[("dispatch_many", "raw-aiopika")] == (
        pytest.approx(5000 / 6000),
        "dispatch_window",
    )
    assert not any(baseline == "raw-boto3" for _, baseline in by_pair)

    checked = {t["target"]: t for t in analysis.check_targets(figures, analysis.rabbitmq_targets())}
    assert checked["sync dispatch() ≥ 90% of raw pika sequential confirmed"]["met"] is True
    assert checked["dispatch_many() ≥ 90% of raw aio-pika windowed"]["met"] is False
    assert checked["latency p99 ≤ 20 ms at 500/s"]["met"] is False
    text = tables.render(figures, {"brokerjobs": "quorum"}, (100,), rows, list(checked.values()))
    assert "| brokerjobs (quorum) | seq | 900 |" in text
    assert "| dispatch_many @ 100 B | 0.83 (window) | 5.00 (seq) |" in text
    assert "**no**" in text


def test_tables_label_the_job_kind_and_sync_jobs_have_their_own_target() -> None:
    records = [
        _record("brokerjobs", "drain", 4000.0, worker="1p"),
        _record("brokerjobs-sync", "drain", 2500.0, worker="1p"),
        _record("raw-aiopika", "drain", 4000.0, worker="1p"),
    ]
    figures = analysis.summaries(records)
    kinds = {"brokerjobs": "brokerjobs", "brokerjobs-sync": "brokerjobs", "raw-aiopika": "raw"}
    brokers = dict.fromkeys(kinds, "rabbitmq")
    queue_types = dict.fromkeys(kinds, "quorum")
    rows = analysis.ratios(figures, kinds, brokers, queue_types)
    sync_ratio = [r["ratio"] for r in rows if r["system"] == "brokerjobs-sync"]
    assert sync_ratio == [pytest.approx(2500 / 4000)]
    checked = analysis.check_targets(figures, analysis.sync_job_targets())
    assert [(t["ratio"], t["met"]) for t in checked] == [(pytest.approx(0.625), True)]
    job_kinds = {"brokerjobs": "async", "brokerjobs-sync": "sync"}
    text = tables.render(figures, queue_types, (100,), rows, checked, job_kinds)
    assert "| brokerjobs-sync / 1p (quorum, sync jobs) | 2,500 |" in text
    assert "| brokerjobs / 1p (quorum, async jobs) | 4,000 |" in text
    assert "| raw-aiopika / 1p (quorum) | 4,000 |" in text
    assert "### brokerjobs-sync (sync jobs) ÷ each baseline" in text
