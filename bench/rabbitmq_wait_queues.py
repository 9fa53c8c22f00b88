"""What quorum wait queues cost against classic ones, on a private RabbitMQ node.

    .venv/bin/python -m bench.rabbitmq_wait_queues [--queues 10] [--messages 5000] [--runs 3]

Each brokerjobs queue gets 26 wait queues (the binary delay levels). Classic wait queues
dead-letter at most once, so a clean broker restart can drop a delayed message or a retry
(docs/reliability.md, bug 5); quorum ones dead-letter at least once. This measures, for
both types, in one run on a fresh private node (so other users of the shared broker do not
blur the memory and CPU figures):

* declaring the topology of ``--queues`` brokerjobs queues: seconds, broker memory and
  Erlang processes per brokerjobs queue;
* the broker's idle CPU with those queues declared (quorum queues are Raft members with
  timers of their own);
* publishing ``--messages`` delayed messages (confirmed, 500-message batches) and the time
  until all of them were consumed, with how late the last one was.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from brokerjobs_rabbitmq import RabbitMQBackend
from brokerjobs_rabbitmq.topology import delete_async

from brokerjobs.backend import OutgoingMessage
from tests.faults.rabbit_node import RabbitNode

BODY = b'{"v":1,"job":"bench.Noop","payload":{"n":1}}'
IDLE_SECONDS = 10.0
TICKS = os.sysconf("SC_CLK_TCK")


def broker_memory(node: RabbitNode) -> int:
    """Bytes the node's VM holds after a full garbage collection."""
    node.ctl("eval", "[erlang:garbage_collect(P) || P <- erlang:processes()], ok.")
    return int(node.ctl("eval", "erlang:memory(total).").strip().rstrip("."))


def broker_processes(node: RabbitNode) -> int:
    return int(node.ctl("eval", "erlang:system_info(process_count).").strip().rstrip("."))


def beam_cpu_seconds(node: RabbitNode) -> float:
    """user+system CPU seconds of the node's beam.smp process."""
    pid = node.ctl("eval", "os:getpid().").strip().strip('".')
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Run:
    def __init__(self, node: RabbitNode, wait_queue_type: str, queues: int) -> None:
        self.node = node
        self.queues = [f"q{i}" for i in range(queues)]
        self.backend = RabbitMQBackend.from_options(
            url=node.url, prefix=f"b{uuid.uuid4().hex[:6]}.", wait_queue_type=wait_queue_type
        )

    async def declare(self) -> dict[str, float]:
        memory, processes = broker_memory(self.node), broker_processes(self.node)
        started = time.perf_counter()
        for queue in self.queues:
            await self.backend.declare(queue)
        seconds = time.perf_counter() - started
        count = len(self.queues)
        cpu = beam_cpu_seconds(self.node)
        await asyncio.sleep(IDLE_SECONDS)  # the idle measurement itself, not a wait for state
        idle = (beam_cpu_seconds(self.node) - cpu) / IDLE_SECONDS
        return {
            "declare_s_per_queue": seconds / count,
            "memory_mb_per_queue": (broker_memory(self.node) - memory) / count / 2**20,
            "processes_per_queue": (broker_processes(self.node) - processes) / count,
            "idle_broker_cpu_pct": idle * 100,
        }

    async def delayed(self, count: int) -> dict[str, float]:
        """Publish ``count`` messages delayed 0.25-4 s, consume them all; rates and lateness."""
        queue = self.queues[0]
        due: dict[str, float] = {}
        messages = []
        for i in range(count):
            delay = 0.25 * (1 + i % 16)
            message = OutgoingMessage(BODY, uuid.uuid4().hex, delay=delay)
            messages.append(message)
        started = time.perf_counter()
        for offset in range(0, count, 500):
            sent = time.perf_counter()
            batch = messages[offset : offset + 500]
            await self.backend.publish_batch(queue, batch)
            for message in batch:
                due[message.message_id] = sent + message.delay
        published = time.perf_counter() - started
        subscription = await self.backend.consume([queue], prefetch=256)
        lateness: list[float] = []
        async for delivery in subscription:
            lateness.append(time.perf_counter() - due.pop(delivery.message_id))
            await self.backend.ack(delivery)
            if not due:
                break
        finished = time.perf_counter() - started
        await subscription.stop()
        return {
            "delayed_publish_per_s": count / published,
            "all_consumed_s": finished,
            "late_p50_s": statistics.median(lateness),
            "late_max_s": max(lateness),
            "early": float(sum(1 for late in lateness if late < -0.05)),
        }

    async def close(self) -> None:
        channel = await self.backend._channel("bench: cleanup")
        for queue in self.queues:
            await delete_async(channel, self.backend.topology.names(queue))
        await self.backend.aclose()
        self.backend.close()


async def measure(node: RabbitNode, kind: str, queues: int, count: int) -> dict[str, float]:
    run = Run(node, kind, queues)
    try:
        figures = await run.declare()
        figures.update(await run.delayed(count))
        return figures
    finally:
        await run.close()


def table(results: dict[str, list[dict[str, float]]]) -> str:
    keys = list(results["classic"][0])
    lines = ["| figure | classic | quorum | quorum / classic |", "|---|---:|---:|---:|"]
    for key in keys:
        classic = statistics.median(r[key] for r in results["classic"])
        quorum = statistics.median(r[key] for r in results["quorum"])
        ratio = f"{quorum / classic:.2f}×" if classic else "–"
        lines.append(f"| {key} | {classic:.3g} | {quorum:.3g} | {ratio} |")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queues", type=int, default=10)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bjbench-node-") as base:
        node = RabbitNode(Path(base))
        node.start()
        try:
            results: dict[str, list[dict[str, float]]] = {"classic": [], "quorum": []}
            for _ in range(args.runs):
                for kind in ("classic", "quorum"):  # interleaved: load drifts hit both
                    results[kind].append(await measure(node, kind, args.queues, args.messages))
            print(
                f"{args.queues} brokerjobs queues × 26 wait levels, {args.messages} delayed "
                f"messages, median of {args.runs}\n"
            )
            print(table(results))
        finally:
            node.stop()


if __name__ == "__main__":
    asyncio.run(main())
