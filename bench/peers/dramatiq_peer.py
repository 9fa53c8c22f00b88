# mypy: disable-error-code="import-not-found", allow-untyped-decorators
# (the peers live in bench/.venv-peers, not in the venv mypy checks with)
"""Dramatiq on RabbitMQ, configured for throughput as its docs describe.

The worker runs ``dramatiq bench.peers.dramatiq_peer --processes P --threads T`` with
``dramatiq_queue_prefetch`` set (the RabbitMQ issue's best configuration: 2 processes ×
4 threads, prefetch 256). Publishing uses ``confirm_delivery=True`` so ``send()`` returns
once the broker confirmed. Retries are off for the no-op actor (nothing fails anyway).
"""

from __future__ import annotations

from collections.abc import Mapping

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from bench.peers import driver, probe
from bench.peers.payload import pad

QUEUE = driver.env("QUEUE", "bench")
URL = driver.env("AMQP_URL", "amqp://127.0.0.1//")

broker = RabbitmqBroker(url=URL, confirm_delivery=True)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE, max_retries=0, actor_name="bench_noop")
def noop(sent_at: float, padding: str) -> None:
    probe.hit(sent_at)


class DramatiqProducer:
    """``send()`` one at a time, confirmed; ``fill`` goes through an unconfirmed broker."""

    def __init__(self) -> None:
        self.modes: Mapping[str, driver.SendMode] = {"seq": self.seq, "fill": self.fill}
        self.fast = RabbitmqBroker(url=URL, confirm_delivery=False)

    def start(self) -> None:
        return None

    def one(self, size: int, sent_at: float) -> None:
        noop.send(sent_at, pad(size))

    def seq(self, count: int, size: int) -> None:
        padding = pad(size)
        for _ in range(count):
            noop.send(0.0, padding)

    def fill(self, count: int, size: int) -> None:
        padding = pad(size)
        for _ in range(count - 1):
            self.fast.enqueue(noop.message(0.0, padding))
        noop.send(0.0, padding)

    def stop(self) -> None:
        self.fast.close()
        broker.close()


if __name__ == "__main__":
    driver.main(DramatiqProducer)
