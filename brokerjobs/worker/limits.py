"""When a worker retires itself: after N jobs, T seconds, or past M MiB of memory.

A long-lived Python process can grow (fragmentation, a leaky library) or hold on to
stale state; recycling it now and then is the usual cure (Celery's
``--max-tasks-per-child``/``--max-memory-per-child``, Laravel's ``queue:work
--max-jobs/--max-time/--memory``). A worker that reaches a limit stops the way SIGTERM
stops it: no new jobs, fetched but unstarted messages given back, running jobs finished.
Under ``--processes`` the supervisor starts a replacement; alone, the process exits 0.
"""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass
from pathlib import Path

from brokerjobs.errors import ConfigurationError

_STATM = Path("/proc/self/statm")


@dataclass(frozen=True, slots=True)
class Limits:
    """Retire the worker once one is reached (None: no such limit)."""

    max_jobs: int | None = None
    """Jobs started; the worker starts exactly this many, then stops."""
    max_time: float | None = None
    """Seconds since the worker started consuming."""
    max_memory: float | None = None
    """Resident memory in MiB, checked after each job."""

    def __post_init__(self) -> None:
        for name in ("max_jobs", "max_time", "max_memory"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigurationError(f"{name} must be > 0, got {value}")

    def jobs_reached(self, started: int) -> str | None:
        """Why to stop after ``started`` jobs, or None."""
        if self.max_jobs is not None and started >= self.max_jobs:
            return f"started {started} jobs (max jobs {self.max_jobs})"
        return None

    def memory_reached(self) -> str | None:
        """Why to stop at the current resident memory, or None."""
        if self.max_memory is None:
            return None
        used = resident_mib()
        if used > self.max_memory:
            return f"resident memory {used:.0f} MiB is over max memory {self.max_memory:g} MiB"
        return None


def resident_mib() -> float:
    """The process's resident memory now, in MiB (Linux); elsewhere its peak so far."""
    try:
        pages = int(_STATM.read_text().split()[1])
    except (OSError, IndexError, ValueError):
        # No /proc (macOS): the peak is what the OS tells cheaply; bytes there, KiB on Linux.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    return pages * resource.getpagesize() / (1024 * 1024)
