# mypy: disable-error-code="import-not-found", allow-untyped-decorators
# (the peers live in bench/.venv-peers, not in the venv mypy checks with)
"""Celery on RabbitMQ (py-amqp transport), configured per Celery's optimizing guide.

Throughput settings: no result backend (``task_ignore_result``), a large prefetch
multiplier for many short tasks (Celery's guide suggests 64 or 128; we use 128), the
worker started with ``-P solo --without-gossip --without-mingle --without-heartbeat``,
remote control and events off. Publishing uses ``confirm_publish`` so ``.delay()``
returns once the broker confirmed. Celery's default (early) acks are kept. With
``BENCH_SQS_ENDPOINT`` set, the same app runs on kombu's SQS transport (pycurl) with
1 s long polls and no extra polling interval. The worker is
``celery -A bench.peers.celery_peer worker ...`` (see ``systems.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from celery import Celery

from bench.peers import driver, probe
from bench.peers.payload import pad

QUEUE = driver.env("QUEUE", "bench")
PREFETCH_MULTIPLIER = 128


def _broker() -> tuple[str, dict[str, object]]:
    """RabbitMQ (py-amqp), or SQS through kombu's transport when a moto endpoint is given."""
    endpoint = os.environ.get("BENCH_SQS_ENDPOINT")
    if endpoint is None:
        return driver.env("AMQP_URL", "amqp://127.0.0.1//"), {}
    host = endpoint.removeprefix("http://")
    key, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    options = {
        "region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "is_secure": False,
        "wait_time_seconds": 1,
        "polling_interval": 0,
    }
    return f"sqs://{key}:{secret}@{host}", options


def _app(confirm: bool) -> Celery:
    url, transport_options = _broker()
    app = Celery("bench", broker=url)
    app.conf.update(
        task_default_queue=QUEUE,
        task_ignore_result=True,
        worker_prefetch_multiplier=PREFETCH_MULTIPLIER,
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport_options or {"confirm_publish": confirm},
    )
    return app


app = _app(confirm=True)


@app.task(name="bench.noop")
def noop(sent_at: float, padding: str) -> None:
    probe.hit(sent_at)


class CeleryProducer:
    """``.delay()`` one at a time, confirmed; ``fill`` sends through an unconfirmed app."""

    def __init__(self) -> None:
        self.modes: Mapping[str, driver.SendMode] = {"seq": self.seq, "fill": self.fill}
        self.fast = _app(confirm=False)

    def start(self) -> None:
        return None

    def one(self, size: int, sent_at: float) -> None:
        noop.delay(sent_at, pad(size))

    def seq(self, count: int, size: int) -> None:
        padding = pad(size)
        for _ in range(count):
            noop.delay(0.0, padding)

    def fill(self, count: int, size: int) -> None:
        padding = pad(size)
        for _ in range(count - 1):
            self.fast.send_task("bench.noop", (0.0, padding))
        noop.delay(0.0, padding)

    def stop(self) -> None:
        self.fast.close()
        app.close()


if __name__ == "__main__":
    driver.main(CeleryProducer)
