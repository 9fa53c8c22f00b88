"""Starting and stopping the subprocesses the harness owns, and measuring their memory.

Workers start in a new session, so the harness can signal the process group it created
(by that group's id) and reach the children a peer forks (Dramatiq, Taskiq), and nothing
else. RSS is read from ``/proc``: the sum over a worker's whole process tree.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")


class Group:
    """One or more worker processes started together (e.g. two brokerjobs workers)."""

    def __init__(self, commands: Sequence[Sequence[str]], env: Mapping[str, str], log: Path):
        self.log = log
        self.procs: list[subprocess.Popen[bytes]] = []
        with log.open("ab") as sink:
            for command in commands:
                self.procs.append(
                    subprocess.Popen(
                        list(command),
                        env=dict(env),
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

    def alive(self) -> bool:
        return all(proc.poll() is None for proc in self.procs)

    def rss(self) -> int:
        """Resident bytes of every process in the group's trees, summed."""
        return sum(tree_rss(proc.pid) for proc in self.procs)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM each process group we created, then SIGKILL what is left."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in self.procs:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(p.poll() is None for p in self.procs):
                time.sleep(0.05)
            if all(p.poll() is not None for p in self.procs):
                break
        for proc in self.procs:
            # Children that outlived their parent are still in the group we created.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def tail(self, lines: int = 20) -> str:
        """The end of the group's log, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _children(pid: int) -> list[int]:
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    with contextlib.suppress(OSError):
        for task in task_dir.iterdir():
            with contextlib.suppress(OSError):
                found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (0 if it is gone)."""
    total = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{current}/statm").read_text().split()
            total += int(fields[1]) * PAGE
        stack.extend(_children(current))
    return total


def run_json(
    command: Sequence[str], env: Mapping[str, str], timeout: float, log: Path
) -> dict[str, Any]:
    """Run a driver to completion and parse the JSON line it prints last."""
    with log.open("ab") as sink:
        done = subprocess.run(
            list(command), env=dict(env), stdout=subprocess.PIPE, stderr=sink, timeout=timeout
        )
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"driver {' '.join(command[:3])} failed (exit {done.returncode}); see {log}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result
