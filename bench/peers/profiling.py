"""Where brokerjobs spends its time: py-spy over a dispatch mode or a draining worker.

    .venv/bin/python -m bench.peers.profiling dispatch --mode seq --count 3000
    .venv/bin/python -m bench.peers.profiling worker --count 20000 [--queue-type classic]

py-spy (installed in bench/.venv-peers) samples the process at 500 Hz; the summary lists
the functions holding the most samples inside the measured part, inclusive and self, as
shares of it. Raw collapsed stacks are kept next to the results for flame graphs.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.peers import probe
from bench.peers.rabbit import RabbitProbe
from bench.peers.runner import REPO
from bench.peers.venv import PEERS_DIR, peers_python

TOKEN = f"bjprof{uuid.uuid4().hex[:8]}"
RESULTS = REPO / "bench" / "results" / "profiles"
URL = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ROOTS = {
    "seq": "BrokerJobsProducer.seq (peers/brokerjobs_peer.py",
    "async500": "dispatcher (peers/brokerjobs_peer.py",
    "many": "BrokerJobsProducer.many (peers/brokerjobs_peer.py",
    "worker": "BaseEventLoop._run_once (asyncio/base_events.py",
}


def summarize(collapsed: Path, root: str, top: int = 25) -> str:
    """Inclusive and self shares of the functions below frames containing ``root``."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        marks = [i for i, frame in enumerate(frames) if root in frame]
        if not marks:
            continue
        count = int(count_text)
        names = [re.sub(r":\d+\)$", ")", f) for f in frames[marks[0] :]]
        total += count
        for name in set(names):
            inclusive[name] += count
        own[names[-1]] += count
    lines = [f"{total} samples under {root}", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines += ["self:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def _env(queue: str, queue_type: str, probe_dir: Path) -> dict[str, str]:
    options = json.dumps({"url": URL, "queue_type": queue_type})
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "BENCH_QUEUE": queue,
        "BENCH_PROBE_DIR": str(probe_dir),
        "BENCH_BACKEND": "rabbitmq",
        "BROKERJOBS_BACKEND": "rabbitmq",
        "BENCH_BACKEND_OPTIONS": options,
        "BROKERJOBS_BACKEND_OPTIONS": options,
    }


def _spy(output: Path) -> list[str]:
    peers_python()
    spy = str(PEERS_DIR / "bin" / "py-spy")
    return [spy, "record", "-r", "500", "--subprocesses", "-f", "raw", "-o", str(output)]


def profile_dispatch(queue: str, mode: str, count: int, queue_type: str, out: Path) -> Path:
    request = json.dumps({"size": 100, "modes": [[mode, count]]})
    command = [sys.executable, "-m", "bench.peers.brokerjobs_peer", request]
    env = _env(queue, queue_type, out.parent)
    subprocess.run([*_spy(out), "--", *command], env=env, check=True)
    return out


def profile_worker(queue: str, count: int, queue_type: str, out: Path) -> Path:
    probe_dir = out.parent / queue
    probe_dir.mkdir(parents=True, exist_ok=True)
    env = _env(queue, queue_type, probe_dir)
    fill = json.dumps({"size": 100, "fill_to": count})
    subprocess.run([sys.executable, "-m", "bench.peers.brokerjobs_peer", fill], env=env, check=True)
    worker = [sys.executable, "-m", "brokerjobs.cli", "consume", "--app",
              "bench.peers.brokerjobs_peer", "--queue", queue, "--concurrency", "64",
              "--prefetch", "256", "--log-level", "warning"]  # fmt: skip
    log = out.with_suffix(".worker.log").open("wb")
    spy = subprocess.Popen(
        [*_spy(out), "--", *worker], env=env, start_new_session=True, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 300
    while probe.read(probe_dir).count < count and time.monotonic() < deadline:
        time.sleep(0.1)
    snapshot = probe.read(probe_dir, details=True)
    print(f"drained {snapshot.count} at {snapshot.steady_rate():.0f}/s (under py-spy)")
    # SIGINT to py-spy's group: it stops the worker and writes its samples.
    os.killpg(spy.pid, signal.SIGINT)
    spy.wait(timeout=60)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.profiling")
    parser.add_argument("what", choices=("dispatch", "worker"))
    parser.add_argument("--mode", choices=("seq", "async500", "many"), default="seq")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--queue-type", choices=("quorum", "classic"), default="quorum")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = args.mode if args.what == "dispatch" else "worker"
    out = RESULTS / f"{name}-{args.queue_type}-{time.strftime('%H%M%S')}.txt"
    queue = f"{TOKEN}-{uuid.uuid4().hex[:8]}"
    rabbit = RabbitProbe(URL)
    rabbit.remember("brokerjobs_peer", queue)
    try:
        if args.what == "dispatch":
            profile_dispatch(queue, args.mode, args.count, args.queue_type, out)
        else:
            profile_worker(queue, args.count, args.queue_type, out)
    finally:
        rabbit.sweep()
        rabbit.close()
    print(summarize(out, ROOTS[name]))
    print(f"collapsed stacks: {out}")


if __name__ == "__main__":
    main()
