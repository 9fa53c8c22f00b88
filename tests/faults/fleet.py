"""The fault supervisor: starts ``brokerjobs consume`` processes, kills them by PID, restarts.

Each worker is one process (no ``--processes``), so the PID we kill is the PID that
holds the deliveries. Only PIDs this fleet started are ever signalled.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.faults.jobs"


@dataclass
class Member:
    index: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class Fleet:
    """Worker processes on one queue set, all with the same environment and options."""

    env: Mapping[str, str]
    args: Sequence[str]
    log_dir: Path
    members: dict[int, Member] = field(default_factory=dict)
    kills: int = 0
    started: int = 0

    def spawn(self, index: int | None = None, extra: Sequence[str] = ()) -> Member:
        index = len(self.members) if index is None else index
        log = self.log_dir / f"worker-{index}.log"
        handle = log.open("ab")
        environment = {**os.environ, **self.env}
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), environment.get("PYTHONPATH")])
        )
        command = [sys.executable, "-m", "brokerjobs.cli", "consume", "--app", APP]
        process = subprocess.Popen(
            [*command, *self.args, *extra],
            env=environment,
            cwd=ROOT,
            stdout=handle,
            stderr=handle,
        )
        handle.close()
        member = Member(index, process, log)
        self.members[index] = member
        self.started += 1
        return member

    def start(self, count: int) -> list[Member]:
        return [self.spawn() for _ in range(count)]

    def kill9(self, index: int | None = None) -> Member:
        """SIGKILL one live member (a random one by default) and reap it."""
        live = [m for m in self.members.values() if m.alive()]
        member = self.members[index] if index is not None else random.choice(live)
        member.process.send_signal(signal.SIGKILL)
        member.process.wait(10)
        self.kills += 1
        return member

    def restart(self, member: Member) -> Member:
        return self.spawn(member.index)

    def restart_dead(self) -> int:
        dead = [m for m in self.members.values() if not m.alive()]
        for member in dead:
            self.restart(member)
        return len(dead)

    def terminate(self, timeout: float = 30) -> dict[int, int]:
        """SIGTERM every live member and wait; SIGKILL what is left. index → exit code."""
        codes: dict[int, int] = {}
        for member in self.members.values():
            if member.alive():
                member.process.send_signal(signal.SIGTERM)
        for index, member in self.members.items():
            try:
                codes[index] = member.process.wait(timeout)
            except subprocess.TimeoutExpired:
                member.process.kill()
                codes[index] = member.process.wait(10)
        return codes

    def kill_all(self) -> None:
        for member in self.members.values():
            if member.alive():
                member.process.kill()
                member.process.wait(10)

    def output(self) -> str:
        return "\n".join(
            f"--- worker {m.index} (pid {m.pid})\n{m.log.read_text(errors='replace')[-4000:]}"
            for m in self.members.values()
        )

    def full_output(self) -> str:
        """Every worker log, whole (for secret scans)."""
        logs = {m.log for m in self.members.values()}
        return "\n".join(log.read_text(errors="replace") for log in sorted(logs))

    def pids(self) -> list[int]:
        return [m.pid for m in self.members.values() if m.alive()]


def rss_kib(pid: int) -> int | None:
    """Resident set size of ``pid`` in KiB (Linux /proc), or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None
