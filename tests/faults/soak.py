"""The chaos soak (T2): N jobs through worker processes that keep being killed.

    .venv/bin/python -m tests.faults.soak --backend rabbitmq            # 100k jobs
    .venv/bin/python -m tests.faults.soak --backend sqs --jobs 20000    # on moto
    .venv/bin/python -m tests.faults.soak --job-kind sync               # plain def run jobs

Runs on a private RabbitMQ node / moto server it starts and stops itself (never the
shared broker). While jobs are published and run: kill -9 of a random worker every 3-5 s
(restarted at once), ``close_all_connections`` every 30 s and ``stop_app``/``start_app``
every 2 min (RabbitMQ only: a restarted moto would start empty, which tests moto, not
us). Worker 0 is never killed, so its RSS before/after shows leaks. Prints lost /
duplicated / dead / throughput / latency percentiles / RSS, and exits 1 if anything was
lost. ``--job-kind sync`` dispatches the plain ``def run`` twin of the job, which the
workers run in their thread pools (``--concurrency`` threads each) instead of on the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.faults import jobs
from tests.faults.checker import Verdict, drain
from tests.faults.fleet import Fleet, rss_kib
from tests.faults.ledger import ENV_VAR, Ledger
from tests.faults.moto_process import MotoProcess
from tests.faults.producer import new_keys, produce
from tests.faults.rabbit_node import RabbitNode
from tests.faults.targets import RabbitTarget, SqsTarget, Target

SENTINEL = 0
"""The worker index never killed (RSS before/after)."""


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["rabbitmq", "sqs"], default="rabbitmq")
    parser.add_argument("--jobs", type=int, default=None, help="100000 (rabbitmq), 20000 (sqs)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--job-kind",
        choices=sorted(jobs.WORK_KINDS),
        default="async",
        help="async: `async def run` on the loop; sync: `def run` in the thread pool",
    )
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0, help="jobs/s to publish (0: no cap)")
    parser.add_argument("--kill-every", type=float, nargs=2, default=(3.0, 5.0))
    parser.add_argument("--close-every", type=float, default=30.0)
    parser.add_argument("--restart-every", type=float, default=120.0)
    parser.add_argument("--restart-down", type=float, default=5.0)
    parser.add_argument("--flaky", type=float, default=0.01, help="share failing attempt 1")
    parser.add_argument(
        "--wait-queues", choices=["classic", "quorum"], default="quorum", help="RabbitMQ"
    )
    parser.add_argument(
        "--stock-moto",
        action="store_true",
        help="SQS: moto without the atomic receive/delete patch (see moto_process.py)",
    )
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.jobs is None:
        args.jobs = 100_000 if args.backend == "rabbitmq" else 20_000
    return args


class Soak:
    def __init__(self, args: argparse.Namespace, target: Target, ledger: Ledger, logs: Path):
        self.args = args
        self.target = target
        self.ledger = ledger
        env = {**target.env(), ENV_VAR: str(ledger.path)}
        concurrency = str(args.concurrency)
        self.fleet = Fleet(env, ["--queue", target.queue, "--concurrency", concurrency], logs)
        self.events = {"kills": 0, "closes": 0, "restarts": 0, "fault_errors": 0}
        self.producing = True
        self.publish_errors = 0
        self.published_at: tuple[float, float] = (0.0, 0.0)
        self.rss_warm: int | None = None

    async def produce(self) -> None:
        backend = self.target.backend()
        keys = new_keys(self.args.jobs)
        flaky = set(random.sample(keys, int(len(keys) * self.args.flaky)))
        work = jobs.WORK_KINDS[self.args.job_kind]
        started = time.monotonic()
        for start in range(0, len(keys), self.args.batch):
            if not self.producing:  # interrupted (SIGINT/SIGTERM)
                break
            chunk = keys[start : start + self.args.batch]
            self.publish_errors += await produce(
                backend,
                self.target.queue,
                self.ledger,
                chunk,
                lambda k: work(key=k, jitter=0.005, flaky=k in flaky),
                batch=self.args.batch,
                retries=600,
                retry_pause=0.5,
            )
            if self.args.rate:
                ahead = (start + len(chunk)) / self.args.rate - (time.monotonic() - started)
                await asyncio.sleep(max(0.0, ahead))
        self.published_at = (started, time.monotonic())
        self.producing = False

    async def every(
        self, period: Callable[[], float], action: Callable[[], Awaitable[None]]
    ) -> None:
        while self.producing:
            await asyncio.sleep(period())
            if not self.producing:
                return
            try:
                await action()
            except Exception as exc:  # a failed fault must not end the soak
                self.events["fault_errors"] += 1
                print(f"fault {action.__name__} failed: {exc}", file=sys.stderr)

    async def warm_rss(self) -> None:
        """The sentinel's RSS once it is warm (a tenth of the jobs, at most 2000, done)."""
        warm = min(2000, self.args.jobs // 10)
        for _ in range(3600):  # polling another process's progress: no event to wait on
            if len(self.ledger.finished_keys()) >= warm:
                break
            await asyncio.sleep(1)
        self.rss_warm = rss_kib(self.fleet.members[SENTINEL].pid)

    async def kill_one(self) -> None:
        victims = [i for i, m in self.fleet.members.items() if i != SENTINEL and m.alive()]
        if victims:
            member = self.fleet.kill9(random.choice(victims))
            self.fleet.restart(member)
            self.events["kills"] += 1

    async def close_connections(self) -> None:
        assert isinstance(self.target, RabbitTarget)
        await asyncio.to_thread(self.target.node.close_all_connections, "bjfaults soak")
        self.events["closes"] += 1

    async def restart_broker(self) -> None:
        assert isinstance(self.target, RabbitTarget)
        await asyncio.to_thread(self.target.node.restart_app, self.args.restart_down)
        self.events["restarts"] += 1

    async def run(self) -> dict[str, Any]:
        await self.target.backend().declare(self.target.queue)
        self.fleet.start(self.args.workers)
        low, high = self.args.kill_every
        tasks = [asyncio.create_task(self.every(lambda: random.uniform(low, high), self.kill_one))]
        if isinstance(self.target, RabbitTarget):
            tasks.append(
                asyncio.create_task(
                    self.every(lambda: self.args.close_every, self.close_connections)
                )
            )
            tasks.append(
                asyncio.create_task(
                    self.every(lambda: self.args.restart_every, self.restart_broker)
                )
            )
        tasks.append(asyncio.create_task(self.warm_rss()))
        await self.produce()
        for task in tasks:
            task.cancel()
        self.fleet.restart_dead()
        verdict = await drain(
            self.ledger,
            self.target.backend(),
            self.target.queue,
            timeout=self.args.drain_timeout,
            interval=2.0,
        )
        finished = time.monotonic()
        rss_start, rss_end = self.rss_warm, rss_kib(self.fleet.members[SENTINEL].pid)
        sentinel_alive = self.fleet.members[SENTINEL].alive()
        self.fleet.terminate(30)
        return self.figures(verdict, finished, rss_start, rss_end, sentinel_alive)

    def figures(
        self,
        verdict: Verdict,
        finished: float,
        rss_start: int | None,
        rss_end: int | None,
        sentinel_alive: bool,
    ) -> dict[str, Any]:
        # Latency from the moment the producer started publishing a job's batch (the
        # confirmation of a batch can come after its first jobs already ran).
        confirmed = self.ledger.attempted_at()
        first_done: dict[str, float] = {}
        for run in self.ledger.executions():
            if run.outcome == "ok" and run.finished is not None and run.key not in first_done:
                first_done[run.key] = run.finished
        latencies = sorted(first_done[k] - confirmed[k] for k in first_done if k in confirmed)
        # Until the last job finished (not the end of a drain that waited for a lost one).
        last_done = max(first_done.values(), default=time.time())
        began = min(confirmed.values(), default=last_done)
        cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 100 else [0.0] * 99
        start, published = self.published_at
        return {
            "backend": self.target.name,
            "jobs": self.args.jobs,
            "workers": self.args.workers,
            "concurrency": self.args.concurrency,
            "job_kind": self.args.job_kind,
            "wait_queues": self.args.wait_queues if self.target.name == "rabbitmq" else None,
            "stock_moto": self.args.stock_moto if self.target.name == "sqs" else None,
            "lost": len(verdict.lost),
            "unexpected": len(verdict.unexpected),
            "duplicated": verdict.duplicates,
            "reruns": verdict.reruns,
            "dead": verdict.dead,
            "confirmed": verdict.confirmed,
            "executed_ok": verdict.executed_ok,
            "publish_errors_retried": self.publish_errors,
            **self.events,
            "publish_rate": round(verdict.confirmed / max(published - start, 1e-9), 1),
            "throughput": round(verdict.executed_ok / max(last_done - began, 1e-9), 1),
            "busy_s": round(last_done - began, 1),
            "wall_s": round(finished - start, 1),
            "latency_s": {f"p{p}": round(cuts[p - 1], 3) for p in (50, 90, 95, 99)},
            "latency_max_s": round(latencies[-1], 3) if latencies else None,
            "sentinel_rss_kib": {"before": rss_start, "after": rss_end},
            "sentinel_alive": sentinel_alive,
        }


async def main(args: argparse.Namespace) -> int:
    base = Path(tempfile.mkdtemp(prefix="bjfaults-soak-"))
    clean = False
    stoppers: list[Callable[[], None]] = []
    try:
        target: Target
        if args.backend == "rabbitmq":
            node = RabbitNode(base / "rabbit")
            stoppers.append(node.stop)
            node.start()
            target = RabbitTarget(node, wait_queue_type=args.wait_queues)
        else:
            moto = MotoProcess(base / "moto.log", atomic=not args.stock_moto)
            stoppers.append(moto.stop)
            moto.start()
            target = SqsTarget(moto, visibility_timeout=10, wait_time=1)
        ledger = Ledger(base / "ledger.db")
        soak = Soak(args, target, ledger, base)
        # Ctrl-C / SIGTERM: stop publishing and faults, then drain and report as usual.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, lambda: setattr(soak, "producing", False))
        try:
            figures = await soak.run()
        finally:
            soak.fleet.kill_all()
            await target.aclose()
        print(json.dumps(figures, indent=2))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        clean = figures["lost"] == 0 and figures["unexpected"] == 0
        return 0 if clean else 1
    finally:
        for stop in stoppers:
            stop()
        if clean:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"kept {base} (ledger, worker logs) for the post-mortem", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
