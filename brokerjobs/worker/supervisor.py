"""``--processes P``: P worker processes under a supervisor that restarts any that dies.

Each child is a full ``brokerjobs consume`` process (its own event loop and broker
connections) started in its own process group, so a terminal's Ctrl-C reaches only the
supervisor, which forwards SIGTERM/SIGINT to every child: the first signal stops them
gracefully, a second one stops them now. A child that dies unasked is logged (exit code
or signal) and restarted, with a growing pause if it keeps dying right after starting;
the others never notice. A child that retired itself on reaching a limit (``--max-jobs``,
``--max-time``, ``--max-memory``) exits with :data:`RETIRED` and is replaced at once; one
that finished its work (``--burst``: the queues are drained) exits 0 and is not
replaced. The supervisor exits once every child has finished.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger("brokerjobs.supervisor")

POLL = 0.2
QUICK_DEATH = 5.0
"""A child dying sooner than this after its start makes the next restart wait longer."""
MAX_RESTART_PAUSE = 30.0
USAGE_ERROR = 2
"""A child exiting with this code was misconfigured: it is not restarted."""
RETIRED = 75
"""A supervised child exits with this code after a graceful stop on reaching a limit."""
SUPERVISED_ENV = "BROKERJOBS_SUPERVISED"
"""Set to 1 in every child's environment: a retiring child then exits with RETIRED."""


@dataclass
class _Child:
    index: int
    process: subprocess.Popen[bytes]
    started: float
    quick_deaths: int = 0


def describe_exit(returncode: int) -> str:
    """``exit code 3`` or ``signal SIGKILL`` for a finished process's return code."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class Supervisor:
    """Runs ``command`` ``processes`` times and keeps them running until told to stop."""

    def __init__(
        self, command: Sequence[str], processes: int, *, env: Mapping[str, str] | None = None
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        self._command = list(command)
        self._processes = processes
        self._env = dict(env if env is not None else os.environ)
        self._children: dict[int, _Child] = {}
        self._pending: dict[int, tuple[float, int]] = {}
        """Children waiting to be restarted: index -> (restart at, quick deaths)."""
        self._signals: list[int] = []

    def run(self) -> int:
        """Supervise until a stop signal; 0 when every child then exited cleanly."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for index in range(self._processes):
                self._spawn(index, quick_deaths=0)
            return self._loop()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.append(signum)

    def _spawn(self, index: int, quick_deaths: int) -> None:
        env = {**self._env, "BROKERJOBS_WORKER_INDEX": str(index), SUPERVISED_ENV: "1"}
        process = subprocess.Popen(self._command, env=env, process_group=0)
        self._children[index] = _Child(index, process, time.monotonic(), quick_deaths)
        log.info("worker %d started (pid %d)", index, process.pid)

    def _loop(self) -> int:
        forwarded = 0
        failures = 0
        usage_error = False
        while True:
            while forwarded < len(self._signals):
                signum = self._signals[forwarded]
                forwarded += 1
                self._pending.clear()
                log.info(
                    "%s: passing it on to %d workers",
                    signal.Signals(signum).name,
                    len(self._children),
                )
                for child in self._children.values():
                    _send(child.process, signum)
            stopping = bool(self._signals)
            for index, child in list(self._children.items()):
                code = child.process.poll()
                if code is None:
                    continue
                del self._children[index]
                if stopping:
                    # Killed by the very signal we forwarded: it had not started consuming.
                    failures += code not in (0, RETIRED, *(-signum for signum in self._signals))
                    log.info(
                        "worker %d (pid %d) stopped with %s",
                        index,
                        child.process.pid,
                        describe_exit(code),
                    )
                    continue
                if code == USAGE_ERROR:
                    log.error(
                        "worker %d exited with a usage error (exit code 2); stopping "
                        "all workers: restarting it would fail the same way",
                        index,
                    )
                    self._signals.append(signal.SIGTERM)
                    usage_error = True
                    continue
                if code == RETIRED:
                    log.info("worker %d (pid %d) retired; replacing it", index, child.process.pid)
                    self._spawn(index, quick_deaths=0)
                    continue
                if code == 0:
                    log.info("worker %d (pid %d) finished its work", index, child.process.pid)
                    continue
                self._schedule_restart(child, code)
            if not self._children and (stopping or not self._pending):
                return USAGE_ERROR if usage_error else 1 if failures else 0
            now = time.monotonic()
            for index, (when, quick) in list(self._pending.items()):
                if when <= now:
                    del self._pending[index]
                    self._spawn(index, quick)
            time.sleep(POLL)

    def _schedule_restart(self, child: _Child, code: int) -> None:
        lived = time.monotonic() - child.started
        quick = child.quick_deaths + 1 if lived < QUICK_DEATH else 0
        pause = min(MAX_RESTART_PAUSE, 0.5 * 2 ** (quick - 1)) if quick else 0.0
        log.warning(
            "worker %d (pid %d) died with %s after %.1f s; restarting in %.1f s",
            child.index,
            child.process.pid,
            describe_exit(code),
            lived,
            pause,
        )
        self._pending[child.index] = (time.monotonic() + pause, quick)


def _send(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signum)
