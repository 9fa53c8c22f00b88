"""``python -m bench.peers``: brokerjobs against raw clients and peers, in one run.

See docs/benchmarks.md. Prints Markdown tables and writes ``bench/results/peers-*.json``
(and a ``.md`` twin). Worker logs and probe files go to ``bench/results/<run>/``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.peers import imports, machine, plan
from bench.peers.output import RunInfo, write_results
from bench.peers.rabbit import RabbitProbe
from bench.peers.runner import REPO, Context, Runner
from bench.peers.systems import ALL_SYSTEMS, OPTIONAL, System
from bench.peers.venv import peers_python

RESULTS = REPO / "bench" / "results"
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small N, one repetition")
    parser.add_argument("--smoke", action="store_true", help="tiny N: checks that it runs")
    parser.add_argument("--only", choices=("rabbitmq", "sqs"), help="one broker only")
    parser.add_argument("--systems", help=f"comma-separated subset of: {', '.join(ALL_SYSTEMS)}")
    parser.add_argument("--repetitions", type=int, help="override the plan's repetitions")
    parser.add_argument("--sizes", help="comma-separated payload sizes in bytes")
    parser.add_argument("--no-imports", action="store_true", help="skip import timings")
    parser.add_argument("--output", type=Path, help="JSON file to write")
    parser.add_argument("--amqp-url", default=os.environ.get("BENCH_AMQP_URL", DEFAULT_URL))
    return parser.parse_args(argv)


def _plan(args: argparse.Namespace) -> plan.Plan:
    chosen = plan.SMOKE if args.smoke else plan.QUICK if args.quick else plan.FULL
    changes: dict[str, Any] = {}
    if args.repetitions:
        changes["repetitions"] = args.repetitions
    if args.sizes:
        changes["sizes"] = tuple(int(s) for s in args.sizes.split(","))
    return chosen.__class__(**{**chosen.__dict__, **changes})


def _systems(args: argparse.Namespace) -> list[System]:
    names = (
        args.systems.split(",") if args.systems else [n for n in ALL_SYSTEMS if n not in OPTIONAL]
    )
    unknown = [n for n in names if n not in ALL_SYSTEMS]
    if unknown:
        raise SystemExit(f"unknown systems {unknown}; choose from {list(ALL_SYSTEMS)}")
    return [ALL_SYSTEMS[n] for n in names if not args.only or ALL_SYSTEMS[n].broker == args.only]


def _start_moto(run_dir: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.peers.moto_server"],
        stdout=subprocess.PIPE,
        stderr=(run_dir / "logs" / "moto.log").open("ab"),
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )
    assert server.stdout is not None
    port = server.stdout.readline().strip()
    if not port:
        raise SystemExit(f"the moto server did not start; see {run_dir / 'logs' / 'moto.log'}")
    env = {
        "BENCH_SQS_ENDPOINT": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return server, env


def _time_imports(runner: Runner, pythons: dict[str, str], runs: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for venv, modules in (("project", imports.PROJECT_MODULES), ("peers", imports.PEER_MODULES)):
        if venv not in pythons:
            continue
        sources = [str(REPO / "brokerjobs"), str(REPO / "backends")] if venv == "project" else []
        imports.compile_bytecode(pythons[venv], sources)
        for module in modules:
            for rep in range(1, runs + 1):
                try:
                    seconds = imports.import_seconds(pythons[venv], module, env)
                except subprocess.CalledProcessError:
                    runner.problems.append(f"import {module} failed in the {venv} venv")
                    break
                runner.record(module, "import_ms", seconds * 1000, rep)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    chosen_plan = _plan(args)
    systems = _systems(args)
    started = datetime.now(UTC)
    run_id = started.strftime("%Y%m%dT%H%M%S")
    run_dir = (args.output.parent if args.output else RESULTS) / run_id
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    pythons = {"project": sys.executable}
    if any(s.venv == "peers" for s in systems) or (not args.no_imports and not args.systems):
        pythons["peers"] = peers_python()
    token = f"bjbench{uuid.uuid4().hex[:8]}"
    brokers = {s.broker for s in systems}
    rabbit = RabbitProbe(args.amqp_url) if "rabbitmq" in brokers else None
    moto, sqs_env = _start_moto(run_dir) if "sqs" in brokers else (None, {})
    ctx = Context(run_dir, token, pythons, args.amqp_url, rabbit, sqs_env)
    runner = Runner(chosen_plan, ctx)
    load_before = machine.load()
    clock = time.monotonic()
    partial = run_dir / "partial.json"
    run = RunInfo(started, clock, token, argv, chosen_plan, pythons, load_before, systems)
    try:
        if not args.no_imports:
            _time_imports(runner, pythons, chosen_plan.import_runs)
        for system in systems:
            began = time.monotonic()
            print(f"- {system.name} ({system.broker}, {system.queue_type})", flush=True)
            runner.run_system(system)
            if rabbit is not None and system.broker == "rabbitmq":
                # brokerjobs: ~50 queues and exchanges per queue name (delay levels).
                rabbit.sweep()
            print(f"  done in {time.monotonic() - began:.0f} s", flush=True)
            write_results(partial, run, runner, complete=False)
    finally:
        if rabbit is not None:
            rabbit.sweep()
            rabbit.close()
        if moto is not None:
            moto.kill()
            moto.wait()
        shutil.rmtree(run_dir / "probe", ignore_errors=True)
    output = args.output or RESULTS / f"peers-{run_id}{'-quick' if args.quick else ''}.json"
    document, report = write_results(output, run, runner, complete=True)
    print()
    print(report)
    print(
        f"load before {load_before}, after {document['load_after']}; "
        f"{document['seconds']} s; wrote {output}"
    )
    for problem in runner.problems:
        print(f"problem: {problem}")
    return 1 if runner.problems else 0


if __name__ == "__main__":
    sys.exit(main())
