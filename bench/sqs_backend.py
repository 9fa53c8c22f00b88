"""SQS backend vs raw boto3 on the same moto server, in one run, as ratios.

    .venv/bin/python bench/sqs_backend.py [--single 300] [--batch 3000] [--consume 2000]
                                          [--runs 3] [--prefetch 40] [--concurrency 64]
                                          [--endpoint URL] [--only worker]

Starts ``python -m moto.server`` on 127.0.0.1 (a free port) in a child process unless
``--endpoint`` is given, and stops it (by its PID) at the end. Pairs, each side measured
``--runs`` times on a fresh queue (moto slows down as a queue grows), the sides
alternating, median reported:

* raw ``send_message``                       vs ``SQSBackend.publish_sync``
* raw ``send_message_batch`` (10 per call)   vs ``SQSBackend.publish_batch_sync``
* raw ``receive_message(10)`` + ``delete_message_batch`` loop
                                             vs ``Subscription`` + ``ack`` (``--prefetch``)
* the same raw loop                          vs a ``Worker`` (``--concurrency``, ``--prefetch``)
                                                running no-op ``async def run`` jobs, and
                                                again with plain ``def run`` jobs (threads)

API calls are counted with botocore's ``before-call`` event on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
from brokerjobs_sqs import SQSBackend
from worker_drain import drain, publish

from brokerjobs.backend import OutgoingMessage

BODY = b'{"v":1,"job":"bench.Noop","payload":{"user_id":42,"note":"' + b"x" * 40 + b'"},"a":1}'
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
REGION = "us-east-1"


def messages(count: int) -> list[OutgoingMessage]:
    return [OutgoingMessage(BODY, uuid.uuid4().hex) for _ in range(count)]


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def take(self) -> Counter[str]:
        calls, self.calls = self.calls, Counter()
        return calls


class Bench:
    def __init__(self, endpoint: str, prefetch: int, concurrency: int = 64) -> None:
        self.endpoint = endpoint
        self.prefetch = prefetch
        self.concurrency = concurrency
        self.duplicates = 0
        self.prefix = f"bench{uuid.uuid4().hex[:6]}-"
        self.raw_calls = CallCounter()
        self.raw = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)
        self.raw.meta.events.register("before-call.sqs", self.raw_calls)
        self.ours_calls = CallCounter()
        self.backend = SQSBackend.from_options(
            endpoint_url=endpoint,
            region=REGION,
            queue_prefix=self.prefix,
            wait_time=1,
            visibility_timeout=60,
            **CREDENTIALS,
        )
        self.backend.add_event_hook("before-call.sqs", self.ours_calls)
        self.serial = 0

    def fresh_queue(self) -> tuple[str, str]:
        """A new queue (declared by the backend, so both sides use the same kind)."""
        self.serial += 1
        name = f"q{self.serial}"
        asyncio.run(self.backend.declare(name))
        url = self.raw.get_queue_url(QueueName=self.prefix + name)["QueueUrl"]
        self.ours_calls.take()
        self.raw_calls.take()
        return name, url

    # -- publishing ------------------------------------------------------------------
    def raw_single(self, count: int) -> float:
        _, url = self.fresh_queue()
        body = BODY.decode()
        started = time.perf_counter()
        for message in messages(count):
            self.raw.send_message(
                QueueUrl=url,
                MessageBody=body,
                MessageAttributes={"id": {"DataType": "String", "StringValue": message.message_id}},
            )
        return count / (time.perf_counter() - started)

    def ours_single(self, count: int) -> float:
        name, _ = self.fresh_queue()
        batch = messages(count)
        started = time.perf_counter()
        for message in batch:
            self.backend.publish_sync(name, message)
        return count / (time.perf_counter() - started)

    def raw_batch(self, count: int) -> float:
        _, url = self.fresh_queue()
        body = BODY.decode()
        batch = messages(count)
        started = time.perf_counter()
        for start in range(0, count, 10):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": body,
                    "MessageAttributes": {
                        "id": {"DataType": "String", "StringValue": m.message_id}
                    },
                }
                for i, m in enumerate(batch[start : start + 10])
            ]
            response = self.raw.send_message_batch(QueueUrl=url, Entries=entries)
            assert not response.get("Failed")
        return count / (time.perf_counter() - started)

    def ours_batch(self, count: int) -> float:
        name, _ = self.fresh_queue()
        batch = messages(count)
        started = time.perf_counter()
        self.backend.publish_batch_sync(name, batch)
        return count / (time.perf_counter() - started)

    # -- consuming -------------------------------------------------------------------
    def filled_queue(self, count: int) -> tuple[str, str]:
        name, url = self.fresh_queue()
        self.backend.publish_batch_sync(name, messages(count))
        self.ours_calls.take()
        self.raw_calls.take()
        return name, url

    def raw_consume(self, count: int) -> float:
        _, url = self.filled_queue(count)
        done = 0
        started = time.perf_counter()
        while done < count:
            got = self.raw.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
            if got:
                entries = [
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
                ]
                self.raw.delete_message_batch(QueueUrl=url, Entries=entries)
                done += len(got)
        return count / (time.perf_counter() - started)

    def ours_consume(self, count: int) -> float:
        name, _ = self.filled_queue(count)
        return asyncio.run(self._consume(name, count))

    async def _consume(self, name: str, count: int) -> float:
        backend = self.backend
        subscription = await backend.consume([name], prefetch=self.prefetch)
        remaining = count
        finished = asyncio.Event()

        async def worker() -> None:
            # A no-op job per delivery; up to `prefetch` of these run at once, as in the worker.
            nonlocal remaining
            async for delivery in subscription:
                await backend.ack(delivery)
                remaining -= 1
                if remaining == 0:
                    finished.set()

        started = time.perf_counter()
        tasks = [asyncio.create_task(worker()) for _ in range(self.prefetch)]
        await finished.wait()
        elapsed = time.perf_counter() - started
        await subscription.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await backend.aclose()
        return count / elapsed

    def worker_async(self, count: int) -> float:
        return self._worker("async", count)

    def worker_sync(self, count: int) -> float:
        return self._worker("sync", count)

    def _worker(self, kind: str, count: int) -> float:
        name, _ = self.fresh_queue()
        return asyncio.run(self._run_worker(name, kind, count))

    async def _run_worker(self, name: str, kind: str, count: int) -> float:
        try:
            await publish(self.backend, name, kind, count)
            self.ours_calls.take()  # count the worker's calls, not the filling
            rate, duplicates = await drain(
                self.backend, name, count, concurrency=self.concurrency, prefetch=self.prefetch
            )
        finally:
            await self.backend.aclose()
        self.duplicates += duplicates
        return rate


def measure(
    runs: int, pair: list[tuple[Callable[[int], float], CallCounter]], count: int
) -> list[tuple[float, float, Counter[str]]]:
    """Median rate, calls per message and calls by operation for each side of ``pair``.

    The sides alternate run by run, so a change in the machine's load hits both alike.
    """
    rates: list[list[float]] = [[] for _ in pair]
    calls: list[Counter[str]] = [Counter() for _ in pair]
    for _ in range(runs):
        for side, (run, counter) in enumerate(pair):
            counter.take()
            rates[side].append(run(count))
            calls[side] += counter.take()
    return [
        (statistics.median(r), sum(c.values()) / (count * runs), c)
        for r, c in zip(rates, calls, strict=True)
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=300)
    parser.add_argument("--batch", type=int, default=3000)
    parser.add_argument("--consume", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prefetch", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=64, help="of the worker rows")
    parser.add_argument("--endpoint")
    parser.add_argument("--only", default="", help="run the rows whose label contains this")
    args = parser.parse_args()

    process = None
    endpoint = args.endpoint
    if endpoint is None:
        process, endpoint = start_moto()
    try:
        bench = Bench(endpoint, args.prefetch, args.concurrency)
        rows = [
            ("single send", args.single, bench.raw_single, bench.ours_single, "publish_sync"),
            ("batch send", args.batch, bench.raw_batch, bench.ours_batch, "publish_batch_sync"),
            (
                "consume+ack",
                args.consume,
                bench.raw_consume,
                bench.ours_consume,
                "Subscription+ack",
            ),
            ("worker async", args.consume, bench.raw_consume, bench.worker_async, "Worker"),
            ("worker sync", args.consume, bench.raw_consume, bench.worker_sync, "Worker"),
        ]
        print(
            f"moto at {endpoint} (pid {process.pid if process else '-'}), runs={args.runs}, "
            f"prefetch={args.prefetch}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
        )
        print(
            f"{'pair':<13} {'n':>6} {'raw msg/s':>10} {'ours msg/s':>11} {'ratio':>6} "
            f"{'raw calls/msg':>14} {'ours calls/msg':>15}  ours calls"
        )
        for label, count, raw, ours, what in rows:
            if args.only not in label:
                continue
            bench.duplicates = 0
            (raw_rate, raw_per, _), (ours_rate, ours_per, ours_calls) = measure(
                args.runs, [(raw, bench.raw_calls), (ours, bench.ours_calls)], count
            )
            print(
                f"{label:<13} {count:>6} {raw_rate:>10.0f} {ours_rate:>11.0f} "
                f"{ours_rate / raw_rate:>6.2f} {raw_per:>14.3f} {ours_per:>15.3f}  "
                f"{what}: {dict(ours_calls)}"
                + (f", duplicate runs {bench.duplicates}" if bench.duplicates else "")
            )
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    main()
