"""Markdown tables of a run (printed, and pasted into docs/benchmarks.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bench.peers.analysis import Key
from bench.peers.stats import Summary

SIZE_NAMES = {100: "100 B", 1024: "1 KiB", 65536: "64 KiB"}


def _cell(summary: Summary | None, digits: int = 0) -> str:
    if summary is None:
        return "–"
    if summary.samples == 1:
        return f"{summary.median:,.{digits}f}"
    return f"{summary.median:,.{digits}f} ({summary.low:,.{digits}f}–{summary.high:,.{digits}f})"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _label(
    system: str, worker: str, queue_types: Mapping[str, str], job_kinds: Mapping[str, str]
) -> str:
    """``system / worker (queue type, job kind)``: which kind of job a drain ran matters
    (sync jobs pay for a thread hand-off), so every row that runs jobs says it."""
    name = f"{system} / {worker}" if worker else system
    notes = [queue_types.get(system, ""), _kind(system, job_kinds)]
    notes = [note for note in notes if note]
    return f"{name} ({', '.join(notes)})" if notes else name


def _kind(system: str, job_kinds: Mapping[str, str]) -> str:
    kind = job_kinds.get(system, "")
    return f"{kind} jobs" if kind else ""


def _ratio_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """One brokerjobs system: its figures down, baselines across; ``(mode)`` marks a
    comparison with a different dispatch mode (the baseline's fastest)."""
    baselines = list(dict.fromkeys(r["baseline"] for r in rows))
    keys = list(dict.fromkeys((r["worker"], r["metric"], r["size"]) for r in rows))
    cells: dict[tuple[str, str, int, str], str] = {}
    for r in rows:
        text = f"{r['ratio']:.2f}"
        if r["baseline_metric"] != r["metric"]:
            text += f" ({r['baseline_metric'].removeprefix('dispatch_')})"
        cells[(r["worker"], r["metric"], r["size"], r["baseline"])] = text
    body = []
    for worker, metric, size in keys:
        name = f"{worker} {metric}" if worker else metric
        name += f" @ {SIZE_NAMES.get(size, size)}" if size else ""
        body.append([name] + [cells.get((worker, metric, size, b), "–") for b in baselines])
    return _table(["figure", *baselines], body)


def render(
    figures: Mapping[Key, Summary],
    queue_types: Mapping[str, str],
    sizes: Sequence[int],
    ratio_rows: Sequence[Mapping[str, Any]],
    targets: Sequence[Mapping[str, Any]],
    job_kinds: Mapping[str, str] | None = None,
) -> str:
    """Every table of the run, in order: dispatch, drain, latency/memory, imports, ratios.

    ``job_kinds`` (system → ``sync``/``async``) labels the rows and ratio tables."""
    kinds = job_kinds or {}
    order = list(dict.fromkeys(k[0] for k in figures))
    size_cols = [SIZE_NAMES.get(s, f"{s} B") for s in sizes]
    out: list[str] = []

    def rows_for(metric_prefix: str) -> list[tuple[str, str, str]]:
        seen = [(k[0], k[1], k[2]) for k in figures if k[2].startswith(metric_prefix)]
        unique = list(dict.fromkeys(seen))
        return sorted(unique, key=lambda r: (order.index(r[0]), r[1], r[2]))

    dispatch = [
        [_label(s, "", queue_types, {}), m.removeprefix("dispatch_")]
        + [_cell(figures.get((s, w, m, size))) for size in sizes]
        for s, w, m in rows_for("dispatch_")
    ]
    out.append("### Dispatch throughput (jobs/s, confirmed by the broker)\n")
    out.append(_table(["system", "mode", *size_cols], dispatch))

    drain = [
        [_label(s, w, queue_types, kinds)]
        + [_cell(figures.get((s, w, m, size))) for size in sizes]
        + [_cell(figures.get((s, w, "busy_rss_mb", sizes[0])), 1)]
        for s, w, m in rows_for("drain")
    ]
    out.append("\n### End to end: a worker drains N queued no-op jobs (jobs/s)\n")
    out.append(_table(["system / worker", *size_cols, f"busy RSS MB ({size_cols[0]})"], drain))

    latency = [
        [_label(s, w, queue_types, kinds)]
        + [
            _cell(figures.get((s, w, metric, 0)), digits)
            for metric, digits in (("latency_p50_ms", 2), ("latency_p99_ms", 2), ("idle_rss_mb", 1))
        ]
        for s, w, _ in rows_for("latency_p50_ms")
    ]
    out.append("\n### Latency dispatch → job start at a fixed rate, and idle worker memory\n")
    out.append(_table(["system / worker", "p50 ms", "p99 ms", "idle RSS MB"], latency))

    imports = [
        [s, _cell(figures.get((s, "", "import_ms", 0)), 1)] for s, _, _ in rows_for("import_ms")
    ]
    out.append("\n### Import time (ms, fresh interpreter)\n")
    out.append(_table(["module", "import ms"], imports))

    for system in dict.fromkeys(r["system"] for r in ratio_rows):
        kind = f" ({_kind(system, kinds)})" if _kind(system, kinds) else ""
        out.append(
            f"\n### {system}{kind} ÷ each baseline (rates: above 1 is better; latency, memory "
            "and import time: below 1 is better)\n"
        )
        out.append(_ratio_table([r for r in ratio_rows if r["system"] == system]))

    if targets:
        rows = []
        for t in targets:
            value = f"{t['value']:,.2f}"
            ratio = f"{t['ratio']:.2f} × {t['baseline']:,.0f}" if "ratio" in t else "–"
            rows.append([t["target"], value, ratio, "yes" if t["met"] else "**no**"])
        out.append("\n### RabbitMQ issue targets\n")
        out.append(_table(["target", "brokerjobs", "ratio × baseline", "met"], rows))
    return "\n".join(out) + "\n"
