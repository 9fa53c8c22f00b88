"""Summaries, ratios and targets of a run, written as JSON and Markdown.

Written after every system (``partial.json`` in the run's folder) and at the end, so a
run that is cut short still leaves what it measured.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.peers import analysis, imports, machine, tables
from bench.peers.plan import Plan
from bench.peers.runner import Runner
from bench.peers.systems import System

_described: dict[str, dict[str, Any]] = {}
"""The machine description, taken once per run (it runs ``rabbitmqctl`` and pip)."""


@dataclass(frozen=True)
class RunInfo:
    started: datetime
    clock: float
    token: str
    argv: Sequence[str] | None
    plan: Plan
    pythons: Mapping[str, str]
    load_before: list[float]
    systems: Sequence[System]


def write_results(
    output: Path, run: RunInfo, runner: Runner, *, complete: bool
) -> tuple[dict[str, Any], str]:
    """Write ``output`` (JSON) and its ``.md`` twin; return both."""
    systems = run.systems
    figures = analysis.summaries(runner.records)
    kinds = {s.name: s.kind for s in systems}
    kinds.update({m: "peer" for m in imports.PEER_MODULES})
    kinds["brokerjobs"] = "brokerjobs"
    broker_of = {s.name: s.broker for s in systems}
    queue_types = {s.name: s.queue_type for s in systems}
    ratio_rows = analysis.ratios(figures, kinds, broker_of, queue_types)
    job_kinds = {s.name: s.job_kind for s in systems if s.job_kind}
    targets = analysis.check_targets(
        figures, (*analysis.rabbitmq_targets(), *analysis.sync_job_targets())
    )
    report = tables.render(figures, queue_types, run.plan.sizes, ratio_rows, targets, job_kinds)
    argv = list(run.argv) if run.argv is not None else sys.argv[1:]
    document = {
        "complete": complete,
        "started": run.started.isoformat(),
        "seconds": round(time.monotonic() - run.clock, 1),
        "token": run.token,
        "command": " ".join(["python -m bench.peers", *argv]),
        "plan": {
            k: (v if not isinstance(v, dict) else {str(s): c.__dict__ for s, c in v.items()})
            for k, v in run.plan.__dict__.items()
        },
        "machine": _described.setdefault(run.token, machine.describe(run.pythons))
        if run.token not in _described
        else _described[run.token],
        "load_before": run.load_before,
        "load_after": machine.load(),
        "systems": {
            s.name: {
                "broker": s.broker,
                "kind": s.kind,
                "queue_type": s.queue_type,
                "job_kind": s.job_kind,
                "workers": [w.label for w in s.workers],
            }
            for s in systems
        },
        "figures": [
            {"system": k[0], "worker": k[1], "metric": k[2], "size": k[3], **v.as_dict()}
            for k, v in sorted(figures.items())
        ],
        "ratios": ratio_rows,
        "targets": targets,
        "problems": runner.problems,
        "records": runner.records,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    output.with_suffix(".md").write_text(report)
    return document, report


def rerender(source: Path) -> str:
    """Recompute summaries, ratios, targets and tables of a stored run from its records."""
    from bench.peers.plan import FULL
    from bench.peers.systems import ALL_SYSTEMS

    stored = json.loads(source.read_text())
    systems = [ALL_SYSTEMS[name] for name in stored["systems"] if name in ALL_SYSTEMS]
    sizes = tuple(stored["plan"]["sizes"])
    runner = Runner.__new__(Runner)
    runner.records, runner.problems = stored["records"], stored["problems"]
    started = datetime.fromisoformat(stored["started"])
    run = RunInfo(started, time.monotonic() - stored["seconds"], stored["token"],
                  stored["command"].split()[3:], FULL.__class__(**{**FULL.__dict__,
                  "sizes": sizes}), {}, stored["load_before"], systems)  # fmt: skip
    _described[run.token] = stored["machine"]
    document, report = write_results(source, run, runner, complete=stored.get("complete", True))
    document["load_after"] = stored["load_after"]
    document["seconds"] = stored["seconds"]
    source.write_text(json.dumps(document, indent=2) + "\n")
    return report


if __name__ == "__main__":
    print(rerender(Path(sys.argv[1])))
