"""Counting job runs across worker processes without a broker round trip.

Every measured worker (raw loops, Celery, Dramatiq, Taskiq, brokerjobs) calls :func:`hit`
from its no-op job. Each process writes into its own small memory-mapped file in
``$BENCH_PROBE_DIR``: how many jobs it started, when the first and the last started, the
time of every ``STEP``-th start (so the harness can rebuild the progress of all
processes together), and, for messages that carry their dispatch time, the dispatch →
start latency. The harness reads the files with :func:`read`. Standard library only: it
runs in every venv.
"""

from __future__ import annotations

import heapq
import mmap
import os
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ENV_DIR = "BENCH_PROBE_DIR"
HEADER = struct.Struct("<ddd")  # count, first start, last start
STEP = 50
MAX_MARKS = 20_000
MAX_LATENCIES = 50_000
MARKS_AT = HEADER.size
LATENCIES_AT = MARKS_AT + 8 * MAX_MARKS
SIZE = LATENCIES_AT + 8 * MAX_LATENCIES


class _Recorder:
    """One per process; rebuilt after ``fork()`` so children never share a parent's file."""

    def __init__(self, directory: str) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        path = Path(directory) / f"{self.pid}.probe"
        with path.open("wb") as handle:
            handle.truncate(SIZE)
        with path.open("r+b") as handle:
            self.map = mmap.mmap(handle.fileno(), SIZE)
        self.count = 0
        self.first = 0.0

    def hit(self, sent_at: float) -> None:
        now = time.time()
        with self.lock:
            index = self.count
            self.count = index + 1
            if index == 0:
                self.first = now
            if sent_at > 0 and index < MAX_LATENCIES:
                struct.pack_into("<d", self.map, LATENCIES_AT + 8 * index, now - sent_at)
            mark, rest = divmod(self.count, STEP)
            if rest == 0 and mark <= MAX_MARKS:
                struct.pack_into("<d", self.map, MARKS_AT + 8 * (mark - 1), now)
            HEADER.pack_into(self.map, 0, float(self.count), self.first, now)


_recorder: _Recorder | None = None
_recorder_lock = threading.Lock()


def hit(sent_at: float = 0.0) -> None:
    """Record that a job started; ``sent_at`` (epoch seconds, 0 = unknown) gives its latency."""
    global _recorder
    recorder = _recorder
    if recorder is None or recorder.pid != os.getpid():
        with _recorder_lock:
            recorder = _recorder
            if recorder is None or recorder.pid != os.getpid():
                recorder = _Recorder(os.environ[ENV_DIR])
                _recorder = recorder
    recorder.hit(sent_at)


@dataclass
class Snapshot:
    """What all processes of one worker recorded so far."""

    count: int = 0
    first: float = 0.0
    last: float = 0.0
    latencies: list[float] = field(default_factory=list)
    marks: list[list[float]] = field(default_factory=list)
    """Per process: the time of its STEP-th, 2·STEP-th... job start."""

    @property
    def rate(self) -> float:
        """Jobs started per second between the first and the last start."""
        span = self.last - self.first
        return (self.count - 1) / span if self.count > 1 and span > 0 else 0.0

    def steady_rate(self, skip: float = 0.1) -> float:
        """Jobs per second after the first ``skip`` of them, all processes together.

        Leaving the first tenth out keeps worker start-up (and processes of one worker
        starting a little apart) out of a throughput figure.
        """
        merged = list(heapq.merge(*self.marks))
        start_index = int(len(merged) * skip)
        if len(merged) < 10 or start_index == 0:
            return self.rate
        done_at_start = (start_index + 1) * STEP
        span = self.last - merged[start_index]
        return (self.count - done_at_start) / span if span > 0 else self.rate


def read(directory: Path, *, details: bool = False) -> Snapshot:
    """Sum the counters of every process that wrote to ``directory``.

    ``details`` also reads latencies and progress marks (done once, at the end; the
    polling loop reads headers only).
    """
    total = Snapshot()
    for path in sorted(directory.glob("*.probe")):
        with path.open("rb") as handle:
            data = handle.read() if details else handle.read(HEADER.size)
        if len(data) < HEADER.size:
            continue
        count_f, first, last = HEADER.unpack_from(data, 0)
        count = int(count_f)
        if count == 0:
            continue
        total.count += count
        total.first = first if total.first == 0 else min(total.first, first)
        total.last = max(total.last, last)
        if details:
            marks = min(count // STEP, MAX_MARKS)
            total.marks.append(list(struct.unpack_from(f"<{marks}d", data, MARKS_AT)))
            stored = min(count, MAX_LATENCIES)
            values = struct.unpack_from(f"<{stored}d", data, LATENCIES_AT)
            total.latencies.extend(v for v in values if v != 0.0)
    return total
