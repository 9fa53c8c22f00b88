"""The README's main job: dispatch real jobs and run them in a real worker process.

    uv run --no-sync python -m examples.demo [--backend sqlite|rabbitmq|sqs|postgres|...]

With the default ``sqlite`` backend nothing needs to be running: the jobs go to a SQLite
file in a temporary folder. The script dispatches a few jobs (one fails once and is
retried, one fails for good and is dead-lettered), starts ``brokerjobs consume`` as a
subprocess, shows its output lines until every job is settled, then stops the worker
with SIGTERM (a graceful shutdown) and prints the queue statistics.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import brokerjobs
from brokerjobs.backend import Backend
from examples.demo_jobs import ChargeCard, SendWelcomeEmail

QUEUES = ("emails", "payments")


def dispatch_jobs(backend: Backend) -> int:
    """Dispatch the demo jobs; returns how many attempts the worker will report."""
    for user_id in (1, 2, 3):
        brokerjobs.dispatch(SendWelcomeEmail(user_id=user_id), backend=backend)
    brokerjobs.dispatch(ChargeCard(order_id=10, amount_cents=1999), backend=backend)
    brokerjobs.dispatch(ChargeCard(order_id=11, amount_cents=-5), backend=backend)
    # 3 mails + order 10 (fails once, then succeeds) + order 11 (two failures, dead-lettered)
    return 3 + 2 + 2


def run_worker(backend_name: str, env: dict[str, str], expected_lines: int) -> int:
    """Start ``brokerjobs consume``, echo its lines until ``expected_lines`` results, stop it."""
    executable = Path(sys.executable).with_name("brokerjobs")
    command = [
        str(executable), "consume",
        "--backend", backend_name, "--app", "examples.demo_jobs",
        "--queue", ",".join(QUEUES), "--concurrency", "4",
    ]  # fmt: skip
    print("$", " ".join(["brokerjobs", *command[1:]]), flush=True)
    worker = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert worker.stdout is not None
    results = 0
    deadline = time.monotonic() + 60
    for line in worker.stdout:
        print("  " + line.rstrip(), flush=True)
        if line.lstrip().startswith(("✔", "✖", "☠")):
            results += 1
        if results >= expected_lines or time.monotonic() > deadline:
            break
    worker.send_signal(signal.SIGTERM)
    for line in worker.stdout:
        print("  " + line.rstrip(), flush=True)
    code = worker.wait(timeout=30)
    print(f"worker exited with code {code} after SIGTERM", flush=True)
    return 0 if results >= expected_lines and code == 0 else 1


async def print_stats(backend: Backend) -> None:
    for queue in QUEUES:
        stats = await backend.stats(queue)
        print(
            f"  {queue:<9} ready={stats.ready} in_flight={stats.in_flight} "
            f"delayed={stats.delayed} dead={stats.dead}"
        )
    for dead in await backend.dead_letters("payments"):
        print(f"  dead letter {dead.message_id[:8]}: {dead.reason.splitlines()[0]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", default="sqlite", help="backend name (default: sqlite)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="brokerjobs-demo-") as folder:
        env = dict(os.environ)
        env.setdefault("BROKERJOBS_SQLITE_PATH", str(Path(folder) / "jobs.db"))
        env["BROKERJOBS_BACKEND"] = args.backend
        os.environ.update(env)
        backend = brokerjobs.get_backend(args.backend)
        for queue in QUEUES:  # a demo run starts from empty queues
            asyncio.run(backend.purge_dead_letters(queue))
        expected = dispatch_jobs(backend)
        print(f"dispatched 5 jobs to {args.backend}; starting a worker", flush=True)
        code = run_worker(args.backend, env, expected)
        print("queue statistics after the run:")
        asyncio.run(print_stats(backend))
        asyncio.run(backend.aclose())
        backend.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
