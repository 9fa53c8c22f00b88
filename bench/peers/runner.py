"""Runs the measurements of one system: latency and idle memory, dispatch, drain.

Per repetition: (1) start the system's first worker set-up on an empty queue, wait until
it ran a warm-up job, read its idle RSS, then dispatch at a fixed rate and collect
dispatch → start latencies; (2) for each payload size, run the timed dispatch modes into
a fresh queue, top it up to the drain depth, then start the worker and time the drain
(first job start to last job start) while sampling its RSS; other worker set-ups drain
their own freshly filled queues.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.peers import probe
from bench.peers.plan import Plan
from bench.peers.procs import Group, run_json
from bench.peers.rabbit import RabbitProbe
from bench.peers.stats import percentile
from bench.peers.systems import System, WorkerSetup

MB = 1024 * 1024
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Context:
    """Where and against what a run happens."""

    run_dir: Path
    token: str
    pythons: Mapping[str, str]
    amqp_url: str
    rabbit: RabbitProbe | None
    sqs: Mapping[str, str]
    """Connection settings for SQS systems (endpoint, dummy credentials), if any."""


class Runner:
    def __init__(self, plan: Plan, ctx: Context) -> None:
        self.plan = plan
        self.ctx = ctx
        self.records: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self._serial = itertools.count(1)

    # -- plumbing ----------------------------------------------------------------------
    def record(
        self, system: str, metric: str, value: float, rep: int, *, worker: str = "", size: int = 0
    ) -> None:
        self.records.append(
            {
                "system": system,
                "worker": worker,
                "metric": metric,
                "size": size,
                "rep": rep,
                "value": value,
            }
        )

    def _queue(self, system: System, tag: str) -> str:
        """A fresh queue name for ``system``, remembered so the sweep can delete it."""
        name = f"{self.ctx.token}-{system.name}-{tag}-{next(self._serial)}"
        if system.broker == "rabbitmq" and self.ctx.rabbit is not None:
            self.ctx.rabbit.remember(system.module, name)
        return name

    def _env(self, system: System, queue: str, extra: Mapping[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO)
        env.update({f"BENCH_{k}": v for k, v in system.env.items()})
        env["BENCH_QUEUE"] = queue
        env["BENCH_PROBE_DIR"] = str(self._probe_dir(queue))
        if system.broker == "rabbitmq":
            env["BENCH_AMQP_URL"] = self.ctx.amqp_url
            options: dict[str, Any] = {"url": self.ctx.amqp_url, "queue_type": system.queue_type}
        else:
            env.update(self.ctx.sqs)
            options = {
                "endpoint_url": self.ctx.sqs["BENCH_SQS_ENDPOINT"],
                "region": self.ctx.sqs["AWS_DEFAULT_REGION"],
                "aws_access_key_id": self.ctx.sqs["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": self.ctx.sqs["AWS_SECRET_ACCESS_KEY"],
                "wait_time": 1,
            }
        env["BENCH_BACKEND_OPTIONS"] = env["BROKERJOBS_BACKEND_OPTIONS"] = json.dumps(options)
        if "BACKEND" in system.env:
            env["BROKERJOBS_BACKEND"] = system.env["BACKEND"]
        env.update(extra)
        return env

    def _probe_dir(self, queue: str) -> Path:
        path = self.ctx.run_dir / "probe" / queue
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _drive(self, system: System, queue: str, request: dict[str, Any]) -> dict[str, Any]:
        command = [self.ctx.pythons[system.venv], "-m", f"bench.peers.{system.module}"]
        return run_json(
            [*command, json.dumps(request)],
            self._env(system, queue, {}),
            timeout=600,
            log=self.ctx.run_dir / "logs" / f"{queue}.driver.log",
        )

    def _start(self, system: System, setup: WorkerSetup, queue: str) -> Group:
        python = self.ctx.pythons[system.venv]
        argv = [python, *(arg.replace("{queue}", queue) for arg in setup.argv)]
        return Group(
            [argv] * setup.copies,
            self._env(system, queue, setup.env),
            self.ctx.run_dir / "logs" / f"{queue}.worker.log",
        )

    def _wait(
        self, queue: str, target: int, timeout: float, group: Group
    ) -> tuple[probe.Snapshot, int]:
        """Poll the probe until ``target`` jobs ran; return the snapshot and peak RSS."""
        directory = self._probe_dir(queue)
        deadline = time.monotonic() + timeout
        peak = 0
        polls = 0
        while True:
            snapshot = probe.read(directory)
            if polls % 4 == 0:
                peak = max(peak, group.rss())
            polls += 1
            if snapshot.count >= target:
                return snapshot, peak
            if time.monotonic() > deadline or not group.alive():
                reason = "timed out" if group.alive() else "worker exited"
                raise RuntimeError(
                    f"{queue}: {reason} after {snapshot.count}/{target} jobs\n{group.tail()}"
                )
            time.sleep(0.05)

    def _wait_consumers(self, system: System, setup: WorkerSetup, queue: str) -> None:
        if self.ctx.rabbit is None:
            return
        name = system.broker_queue.replace("{queue}", queue)
        deadline = time.monotonic() + 60
        while self.ctx.rabbit.consumers(name) < setup.consumers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: worker never started consuming")
            time.sleep(0.1)

    # -- phases ------------------------------------------------------------------------
    def latency(self, system: System, rep: int) -> None:
        setup = system.workers[0]
        queue = self._queue(system, "lat")
        group = self._start(system, setup, queue)
        try:
            if system.broker == "rabbitmq":
                self._wait_consumers(system, setup, queue)
            done = self._drive(system, queue, {"size": 100})["published"]
            self._wait(queue, done, 90, group)
            time.sleep(1.0)
            self.record(system.name, "idle_rss_mb", group.rss() / MB, rep, worker=setup.label)
            count, rate = self.plan.latency(system.broker)
            request = {"size": 100, "latency": [count, rate]}
            done += self._drive(system, queue, request)["published"]
            self._wait(queue, done, count / rate + 60, group)
        finally:
            group.stop()
        latencies = probe.read(self._probe_dir(queue), details=True).latencies
        for name, fraction in (("latency_p50_ms", 0.5), ("latency_p99_ms", 0.99)):
            value = percentile(latencies, fraction) * 1000
            self.record(system.name, name, value, rep, worker=setup.label)

    def dispatch_and_drain(self, system: System, size: int, rep: int) -> None:
        counts = self.plan.counts(system.broker, size)
        queue = self._queue(system, f"s{size}")
        modes = [[mode, counts.for_mode(mode)] for mode in system.modes]
        result = self._drive(system, queue, {"size": size, "modes": modes, "fill_to": counts.drain})
        for mode, count in modes:
            rate = count / result["seconds"][mode]
            self.record(system.name, f"dispatch_{mode}", rate, rep, size=size)
        self.drain(system, system.workers[0], queue, result["published"], size, rep)
        for setup in system.workers[1:]:
            if setup.sizes is not None and size not in setup.sizes:
                continue
            other = self._queue(system, f"s{size}")
            published = self._drive(system, other, {"size": size, "fill_to": counts.drain})
            self.drain(system, setup, other, published["published"], size, rep)

    def drain(
        self, system: System, setup: WorkerSetup, queue: str, depth: int, size: int, rep: int
    ) -> None:
        group = self._start(system, setup, queue)
        try:
            _, peak = self._wait(queue, depth, self.plan.drain_timeout, group)
        finally:
            group.stop()
        snapshot = probe.read(self._probe_dir(queue), details=True)
        self.record(
            system.name, "drain", snapshot.steady_rate(), rep, worker=setup.label, size=size
        )
        self.record(system.name, "busy_rss_mb", peak / MB, rep, worker=setup.label, size=size)

    def run_system(self, system: System) -> None:
        for rep in range(1, self.plan.repetitions + 1):
            self._guard(system, rep, "latency", partial(self.latency, system, rep))
            for size in self.plan.sizes:
                if system.sizes is not None and size not in system.sizes:
                    continue
                phase = partial(self.dispatch_and_drain, system, size, rep)
                self._guard(system, rep, f"{size} B", phase)

    def _guard(self, system: System, rep: int, phase: str, action: Callable[[], None]) -> None:
        """Run one phase; a broken peer is reported and must not end the whole run."""
        began = time.monotonic()
        try:
            action()
            print(f"  rep {rep} {phase}: {time.monotonic() - began:.0f} s", flush=True)
        except Exception as exc:
            message = f"{system.name} rep {rep} {phase}: {exc}"
            self.problems.append(message)
            print(f"  ! {message.splitlines()[0]}", flush=True)
