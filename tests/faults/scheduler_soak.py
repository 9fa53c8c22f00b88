"""Three ``brokerjobs scheduler`` processes, one SIGKILLed every 10–20 s, and a tick ledger.

The ledger is the queue itself: this process consumes every message the schedulers
dispatched and books its first delivery (attempt 1) by message id
(``<schedule>@<tick>``); a redelivery (attempt 2 or more) is the same message again, not
a second dispatch. A tick of the window never received is *missed*; a message id
booked twice (two messages) is *doubled*; lateness is the
envelope's ``created_at`` (set when the scheduler dispatched) minus the tick.

The window starts once all three schedulers run (a fresh SQS scheduler also re-sends the
last ``grace`` seconds of ticks, which the broker drops as copies: those count for
doubles, not for lateness) and ends 2 s before the schedulers are stopped.

The long version (30 minutes) is a documented command::

    BROKERJOBS_SCHEDULER_SOAK_SECONDS=1800 uv run --no-sync pytest \\
        tests/faults/test_scheduler_failover.py -m faults -s --timeout 2400
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from brokerjobs.backend import Backend
from brokerjobs.envelope import decode
from brokerjobs.errors import DeliveryLostError
from brokerjobs.schedules import TICK_HEADER
from brokerjobs.schedules.declarations import parse_tick

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.faults.schedule_app"
READY = "ticks claimed by"
LEADING = "scheduler: leading"
NOT_LEADING = "scheduler: not leading"


def soak_seconds(default: float = 60.0) -> float:
    """How long the schedulers run: ``$BROKERJOBS_SCHEDULER_SOAK_SECONDS`` or ``default``."""
    return float(os.environ.get("BROKERJOBS_SCHEDULER_SOAK_SECONDS", default))


@dataclass
class SchedulerFleet:
    """Scheduler processes; only PIDs started here are ever signalled."""

    env: Mapping[str, str]
    log_dir: Path
    command: Sequence[str] = ("-m", "brokerjobs.cli", "scheduler", "--app", APP)
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[int, Path] = field(default_factory=dict)
    kills: list[tuple[float, int, bool]] = field(default_factory=list)
    """(when, index, was it the leader as far as its log said)."""

    def spawn(self, index: int) -> None:
        log = self.log_dir / f"scheduler-{index}.log"
        environment = {**os.environ, **self.env}
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), environment.get("PYTHONPATH")])
        )
        with log.open("ab") as handle:
            self.processes[index] = subprocess.Popen(
                [sys.executable, *self.command],
                env=environment,
                cwd=ROOT,
                stdout=handle,
                stderr=handle,
            )
        self.logs[index] = log

    async def wait_ready(self, timeout: float = 120.0) -> None:
        """Until every member logged that it runs (imports take seconds on a busy box)."""
        deadline = time.monotonic() + timeout
        while not all(READY in log.read_text(errors="replace") for log in self.logs.values()):
            if time.monotonic() > deadline:
                raise AssertionError(f"schedulers did not start\n{self.output()}")
            await asyncio.sleep(0.2)

    def leader(self) -> int | None:
        """The live member whose log last said it leads (lease-based claiming only)."""
        for index, log in self.logs.items():
            text = log.read_text(errors="replace")
            last_run = text.rsplit("ticks claimed by", 1)[-1]
            leads = last_run.rfind(LEADING)
            alive = self.processes[index].poll() is None
            if alive and leads >= 0 and leads > last_run.rfind(NOT_LEADING):
                return index
        return None

    def kill_and_restart(self, rng: random.Random, prefer_leader: bool) -> None:
        live = [i for i, p in self.processes.items() if p.poll() is None]
        leader = self.leader()
        index = leader if prefer_leader and leader is not None else rng.choice(live)
        process = self.processes[index]
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        self.kills.append((time.time(), index, index == leader))
        self.spawn(index)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def output(self) -> str:
        return "\n".join(
            f"--- scheduler {i}\n{log.read_text(errors='replace')[-3000:]}"
            for i, log in self.logs.items()
        )


@dataclass
class Report:
    expected: int
    missed: list[datetime]
    doubled: dict[str, int]
    lateness_p99: float
    lateness_max: float
    latest_tick: datetime | None
    kills: int
    leader_kills: int

    def summary(self) -> str:
        return (
            f"{self.expected} ticks in the window, {len(self.missed)} missed "
            f"{[tick.isoformat() for tick in self.missed[:5]]}, "
            f"{len(self.doubled)} doubled {sorted(self.doubled)[:5]}, "
            f"lateness p99 {self.lateness_p99:.3f} s "
            f"(max {self.lateness_max:.3f} s, tick {self.latest_tick}), {self.kills} SIGKILLs "
            f"({self.leader_kills} of the leader)"
        )


def analyse(
    received: Mapping[str, list[tuple[datetime, datetime]]],
    window: tuple[datetime, datetime],
    kills: list[tuple[float, int, bool]],
) -> Report:
    """``received``: message id → [(tick, created_at)] per copy received."""
    first, last = window
    ticks = {copies[0][0]: copies[0][1] for copies in received.values()}
    expected = []
    moment = first.replace(microsecond=0) + timedelta(seconds=1)
    while moment <= last:
        expected.append(moment)
        moment += timedelta(seconds=1)
    missed = [tick for tick in expected if tick not in ticks]
    doubled = {mid: len(copies) for mid, copies in received.items() if len(copies) > 1}
    late = {tick: (ticks[tick] - tick).total_seconds() for tick in expected if tick in ticks}
    lateness = sorted(late.values())
    latest = max(late, key=late.__getitem__, default=None)
    p99 = lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))] if lateness else 0.0
    return Report(
        expected=len(expected),
        missed=missed,
        doubled=doubled,
        lateness_p99=p99,
        lateness_max=lateness[-1] if lateness else 0.0,
        latest_tick=latest,
        kills=len(kills),
        leader_kills=sum(1 for _, _, leader in kills if leader),
    )


async def run_soak(
    *,
    env: Mapping[str, str],
    backend: Backend,
    queue: str,
    log_dir: Path,
    duration: float,
    seed: int,
    lease_based: bool,
    command: Sequence[str] | None = None,
) -> tuple[Report, SchedulerFleet]:
    """Run the fleet for ``duration`` seconds with kills, consume everything, analyse."""
    rng = random.Random(seed)
    fleet = (
        SchedulerFleet(env, log_dir) if command is None else SchedulerFleet(env, log_dir, command)
    )
    received: dict[str, list[tuple[datetime, datetime]]] = {}
    subscription = await backend.consume([queue], prefetch=10)
    stop_consuming = asyncio.Event()
    last_seen = time.monotonic()

    async def consume() -> None:
        nonlocal last_seen
        while not stop_consuming.is_set():
            try:
                delivery = await asyncio.wait_for(subscription.__anext__(), 1.0)
            except TimeoutError:
                continue
            last_seen = time.monotonic()
            with contextlib.suppress(DeliveryLostError):  # redelivered later: attempt 2
                await backend.ack(delivery)
            if delivery.attempt > 1:
                continue  # a redelivery of a message already booked, not a second dispatch
            envelope = decode(delivery.body, max_size=1 << 20)
            tick = parse_tick(envelope.headers[TICK_HEADER])
            received.setdefault(delivery.message_id, []).append((tick, envelope.created_at))

    consumer = asyncio.create_task(consume())
    try:
        for index in range(3):
            fleet.spawn(index)
        await fleet.wait_ready()
        started = datetime.now(UTC)
        deadline = time.monotonic() + duration
        next_kill = time.monotonic() + rng.uniform(10, 20)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            if time.monotonic() >= next_kill:
                # Every other kill takes the leader (lease-based claiming), so failover
                # is exercised whatever the dice say.
                fleet.kill_and_restart(rng, prefer_leader=lease_based and len(fleet.kills) % 2 == 0)
                next_kill = time.monotonic() + rng.uniform(10, 20)
        stopped = datetime.now(UTC)
        await asyncio.to_thread(fleet.stop)
        # Drain: until nothing arrived for 5 s (the last ticks are in flight).
        quiet_since = time.monotonic()
        while time.monotonic() - max(last_seen, quiet_since) < 5:  # noqa: ASYNC110 (a poll)
            await asyncio.sleep(0.2)
    finally:
        fleet.stop()
        stop_consuming.set()
        await consumer
        await subscription.stop()
    window = (started + timedelta(seconds=1), stopped - timedelta(seconds=2))
    return analyse(received, window, fleet.kills), fleet
