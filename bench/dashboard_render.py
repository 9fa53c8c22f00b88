"""Time to first render of the dashboard with 10,000 dead letters and 50 queues (one run).

    .venv/bin/python -m bench.dashboard_render [--letters 10000] [--queues 50] [--runs 5]
                                             [--backend sqlite|rabbitmq]

Set-up, on a fresh SQLite file or a private RabbitMQ node (never the shared one):
``--queues`` declared queues, ``--letters`` dead letters
in the first one (published, received and dead-lettered through the backend contract).
A real ``brokerjobs dashboard`` process serves them; headless Chromium (Debian's
``chromium``) loads each page ``--runs`` times and reports the median first contentful
paint (FCP) from the browser's Paint Timing, and the response end (server work plus
transfer). Baseline, in the same run: the backend calls the CLI makes for the same view
(``brokerjobs stats`` for 50 queues, ``brokerjobs dlq list --limit 50``, a filtered
list, ``dlq show``), timed in-process on the same database: the backend work a page
cannot avoid.
``× floor`` = page FCP / FCP of the login page (no backend call at all), in the same run:
the browser's and server's fixed cost.
Results are printed as Markdown and written to ``bench/results/dashboard-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from brokerjobs_sql import SQLiteBackend
from playwright.sync_api import sync_playwright

from brokerjobs import dead_letter_ops as ops
from brokerjobs.backend import Backend, OutgoingMessage
from brokerjobs.envelope import Envelope, encode, new_message_id
from tests.dashboard.browser import CHROMIUM, CHROMIUM_ARGS, free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-0123456789"
PAINT = """() => new Promise((resolve) => {
  const nav = performance.getEntriesByType('navigation')[0];
  const done = (fcp) => resolve({fcp: fcp, response_end: nav.responseEnd});
  new PerformanceObserver((list) => {
    const entry = list.getEntries().find((e) => e.name === 'first-contentful-paint');
    if (entry) done(entry.startTime);
  }).observe({type: 'paint', buffered: true});
  setTimeout(() => done(null), 5000);
})"""


def body(queue: str, job: str, n: int) -> bytes:
    return encode(
        Envelope(
            id=new_message_id(),
            job=job,
            queue=queue,
            payload={"n": n, "note": "x" * 200},
            max_attempts=1,
            created_at=datetime.now(UTC),
        )
    )


@dataclass
class Target:
    """The backend under test: how to open it here, and the dashboard process's environment."""

    name: str
    make: Callable[[], Backend]
    env: dict[str, str]


async def fill(target: Target, queues: list[str], letters: int) -> list[str]:
    backend = target.make()
    try:
        for queue in queues:
            await backend.declare(queue)
        big = queues[0]
        messages = [
            OutgoingMessage(body(big, "bench.Other" if i % 100 == 0 else "bench.Job", i), str(i))
            for i in range(letters)
        ]
        for start in range(0, letters, 500):
            await backend.publish_batch(big, messages[start : start + 500])
        subscription = await backend.consume([big], prefetch=200)
        ids = []
        for _ in range(letters):
            delivery = await anext(subscription)
            await backend.dead_letter(delivery, reason="RuntimeError: bench")
            ids.append(delivery.message_id)
        await subscription.stop()
        return ids
    finally:
        await backend.aclose()
        backend.close()


async def baselines(target: Target, queues: list[str], last_id: str, runs: int) -> dict[str, float]:
    backend = target.make()
    big = queues[0]

    async def stats_all() -> None:
        for queue in queues:
            await backend.stats(queue)

    async def show() -> None:
        found = [d for d in await backend.dead_letters(big, limit=ops.SCAN_LIMIT)]
        assert any(d.message_id == last_id for d in found)

    work: dict[str, Callable[[], Awaitable[Any]]] = {
        "queues": stats_all,
        "letters page 1": lambda: ops.listing(backend, big, None, 50),
        "letters last page": lambda: backend.dead_letters(big, limit=ops.SCAN_LIMIT),
        "letters filtered": lambda: ops.listing(backend, big, "bench.Other", 50),
        "one letter, last page": show,
    }
    medians = {}
    try:
        for name, call in work.items():
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                await call()
                times.append((time.perf_counter() - started) * 1000)
            medians[name] = statistics.median(times)
    finally:
        await backend.aclose()
        backend.close()
    return medians


def serve(target: Target, queues: list[str], port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, **target.env, "BROKERJOBS_DASHBOARD_TOKEN": TOKEN}
    executable = Path(sys.executable).with_name("brokerjobs")
    process = subprocess.Popen(
        [str(executable), "dashboard", "--queue", ",".join(queues), "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/static/dashboard.css", process)
    except AssertionError:
        process.kill()
        raise
    return process


def measure(port: int, pages: dict[str, str], runs: int) -> dict[str, dict[str, float]]:
    base = f"http://127.0.0.1:{port}"
    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_navigation_timeout(600_000)  # RabbitMQ reads letters one by one
        page.goto(f"{base}/login?token={TOKEN}")
        for name, path in pages.items():
            page.goto(base + path, wait_until="load")  # warm-up, not counted
            samples = []
            for _ in range(runs):
                page.goto(base + path, wait_until="load")
                samples.append(page.evaluate(PAINT))
            results[name] = {
                "fcp_ms": statistics.median(s["fcp"] for s in samples if s["fcp"] is not None),
                "response_end_ms": statistics.median(s["response_end"] for s in samples),
                "rows": page.locator("tbody tr").count(),
            }
        browser.close()
    return results


def run(target: Target, args: argparse.Namespace) -> None:
    queues = [f"bench-q{i:02d}" for i in range(args.queues)]
    load_before = os.getloadavg()
    started = time.perf_counter()
    ids = asyncio.run(fill(target, queues, args.letters))
    fill_s = time.perf_counter() - started
    big = queues[0]
    last_page = (args.letters + 49) // 50
    pages = {
        "login (floor)": "/login",
        "queues": "/queues",
        "letters page 1": f"/queues/{big}/dead-letters",
        "letters last page": f"/queues/{big}/dead-letters?page={last_page}",
        "letters filtered": f"/queues/{big}/dead-letters?job=bench.Other",
        "one letter, first page": f"/queues/{big}/dead-letters/{ids[0]}",
        "one letter, last page": f"/queues/{big}/dead-letters/{ids[-1]}",
    }
    base = asyncio.run(baselines(target, queues, ids[-1], args.runs))
    port = free_port()
    server = serve(target, queues, port)
    try:
        pages_ms = measure(port, pages, args.runs)
    finally:
        server.terminate()
        server.wait(15)
    load_after = os.getloadavg()
    print(
        f"dashboard first render, {target.name}, {args.letters} dead letters in {big}, "
        f"{args.queues} queues, median of {args.runs} (set-up {fill_s:.0f} s)"
    )
    print(f"load average before {load_before}, after {load_after}\n")
    floor = pages_ms["login (floor)"]["fcp_ms"]
    print("| page | rows | FCP ms | × floor | response end ms | CLI's backend calls ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, figures in pages_ms.items():
        cli = f"{base[name]:.0f}" if name in base else "–"
        print(
            f"| {name} | {figures['rows']} | {figures['fcp_ms']:.0f} | "
            f"{figures['fcp_ms'] / floor:.2f} | {figures['response_end_ms']:.0f} | {cli} |"
        )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (results / f"dashboard-{target.name}-{stamp}.json").write_text(
        json.dumps(
            {
                "backend": target.name,
                "letters": args.letters,
                "queues": args.queues,
                "runs": args.runs,
                "pages": pages_ms,
                "cli_baseline_ms": base,
                "load_before": load_before,
                "load_after": load_after,
            },
            indent=2,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=int, default=10_000)
    parser.add_argument("--queues", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "rabbitmq"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="brokerjobs-dashboard-bench-") as directory:
        if args.backend == "sqlite":
            path = Path(directory) / "bench.db"
            env = {"BROKERJOBS_BACKEND": "sqlite", "BROKERJOBS_SQLITE_PATH": str(path)}
            run(Target("sqlite", lambda: SQLiteBackend(path), env), args)
            return
        from brokerjobs_rabbitmq import RabbitMQBackend

        from tests.faults.rabbit_node import RabbitNode

        node = RabbitNode(Path(directory))  # private: 10,000 letters stay off the shared broker
        node.start()
        try:
            env = {"BROKERJOBS_BACKEND": "rabbitmq", "BROKERJOBS_RABBITMQ_URL": node.url}
            make = lambda: RabbitMQBackend.from_options(url=node.url)  # noqa: E731
            run(Target("rabbitmq", make, env), args)
        finally:
            node.stop()


if __name__ == "__main__":
    main()
