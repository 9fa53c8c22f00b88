"""From raw records to summaries, ratios of brokerjobs to every baseline, and targets.

A *figure* is one (system, worker, metric, size) tuple; its summary is the median and
range over repetitions. Ratios are brokerjobs ÷ baseline for the same metric and size:
above 1 is better for rates, below 1 is better for latency, memory and import time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.peers.stats import Summary, summarize

Key = tuple[str, str, str, int]  # system, worker, metric, size
LOWER_IS_BETTER = ("latency_p50_ms", "latency_p99_ms", "idle_rss_mb", "busy_rss_mb", "import_ms")


def summaries(records: Iterable[Mapping[str, Any]]) -> dict[Key, Summary]:
    grouped: dict[Key, list[float]] = defaultdict(list)
    for r in records:
        grouped[(r["system"], r["worker"], r["metric"], r["size"])].append(float(r["value"]))
    return {key: summarize(values) for key, values in grouped.items()}


def _comparable(figures: Mapping[Key, Summary], key: Key, other: str) -> Key | None:
    """The baseline figure of system ``other`` that ``key`` is compared with."""
    _, _, metric, size = key
    same = [k for k in figures if k[0] == other and k[2] == metric and k[3] == size]
    if same:
        return sorted(same)[0]
    if metric.startswith("dispatch_"):
        # async/batch dispatch against the other's fastest dispatch mode.
        modes = [
            k for k in figures if k[0] == other and k[2].startswith("dispatch_") and k[3] == size
        ]
        if modes:
            return max(modes, key=lambda k: figures[k].median)
    return None


def ratios(
    figures: Mapping[Key, Summary],
    kinds: Mapping[str, str],
    brokers: Mapping[str, str],
    queue_types: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Every brokerjobs figure divided by each comparable figure of another system.

    Baselines are the raw clients on the same broker and queue type, and every peer on
    the same broker; import times are compared with the peers' imports.
    """
    rows: list[dict[str, Any]] = []
    for key, summary in sorted(figures.items()):
        if kinds.get(key[0]) != "brokerjobs":
            continue
        for other in sorted(kinds):
            if kinds[other] == "brokerjobs":
                continue
            if key[2] == "import_ms":
                pass  # modules: compared whatever their broker (celery is both)
            elif brokers.get(other) != brokers.get(key[0]) or (
                kinds[other] == "raw" and queue_types.get(other) != queue_types.get(key[0])
            ):
                continue
            base = _comparable(figures, key, other)
            if base is None or figures[base].median == 0:
                continue
            rows.append(
                {
                    "system": key[0],
                    "worker": key[1],
                    "metric": key[2],
                    "size": key[3],
                    "baseline": other,
                    "baseline_worker": base[1],
                    "baseline_metric": base[2],
                    "ratio": summary.median / figures[base].median,
                }
            )
    return rows


@dataclass(frozen=True)
class Target:
    """One performance target of the RabbitMQ issue."""

    name: str
    figure: Key
    baseline: Key | None
    threshold: float
    """A minimum ratio to the baseline, or (no baseline) a maximum absolute value."""


def rabbitmq_targets(system: str = "brokerjobs", raw_suffix: str = "") -> Sequence[Target]:
    pika, aio = f"raw-pika{raw_suffix}", f"raw-aiopika{raw_suffix}"
    return (
        Target(
            "sync dispatch() ≥ 90% of raw pika sequential confirmed",
            (system, "", "dispatch_seq", 100),
            (pika, "", "dispatch_seq", 100),
            0.9,
        ),
        Target(
            "dispatch_many() ≥ 90% of raw aio-pika windowed",
            (system, "", "dispatch_many", 100),
            (aio, "", "dispatch_window", 100),
            0.9,
        ),
        Target(
            "dispatch_async() × 500 tasks ≥ 90% of raw aio-pika windowed",
            (system, "", "dispatch_async500", 100),
            (aio, "", "dispatch_window", 100),
            0.9,
        ),
        Target(
            "end to end, 1 process ≥ 70% of raw aio-pika consume+ack",
            (system, "1p", "drain", 100),
            (aio, "1p", "drain", 100),
            0.7,
        ),
        Target(
            "end to end, 2 processes ahead of Dramatiq 2p×4t",
            (system, "2p", "drain", 100),
            ("dramatiq", "2p×4t", "drain", 100),
            1.0,
        ),
        Target("latency p50 ≤ 3 ms at 500/s", (system, "1p", "latency_p50_ms", 0), None, 3.0),
        Target("latency p99 ≤ 20 ms at 500/s", (system, "1p", "latency_p99_ms", 0), None, 20.0),
        Target("idle worker RSS ≤ 60 MB", (system, "1p", "idle_rss_mb", 0), None, 60.0),
        Target("import brokerjobs ≤ 150 ms", ("brokerjobs", "", "import_ms", 0), None, 150.0),
    )


def sync_job_targets(system: str = "brokerjobs-sync") -> Sequence[Target]:
    """Issue #13's bar for plain ``def run`` jobs: they pay for a thread hand-off, so the
    bound is lower than the async one (≥ 70%) but still a ratio to the same raw consumer."""
    return (
        Target(
            "end to end, sync jobs, 1 process ≥ 50% of raw aio-pika consume+ack",
            (system, "1p", "drain", 100),
            ("raw-aiopika", "1p", "drain", 100),
            0.5,
        ),
    )


def check_targets(
    figures: Mapping[Key, Summary], targets: Sequence[Target]
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for target in targets:
        value = figures.get(target.figure)
        if value is None:
            continue
        row: dict[str, Any] = {"target": target.name, "value": value.median}
        if target.baseline is None:
            row.update(threshold=target.threshold, met=value.median <= target.threshold)
        else:
            base = figures.get(target.baseline)
            if base is None:
                continue
            ratio = value.median / base.median
            row.update(
                baseline=base.median,
                ratio=ratio,
                threshold=target.threshold,
                met=ratio >= target.threshold if target.threshold != 1.0 else ratio > 1.0,
            )
        results.append(row)
    return results
