"""A stand-alone queue stats exporter: the autoscaling signal while no worker runs.

Workers export the queue gauges too, but an autoscaler that scales workers to zero
needs a source that stays up when they are gone::

    python -m brokerjobs.telemetry.exporter --backend sqs --queue emails,default --port 9464

serves ``/metrics`` (``brokerjobs_queue_ready`` and the other gauges, plus nothing else)
and ``/healthz`` (fails when the last poll of every queue is older than three
intervals). Backend settings come from the usual ``BROKERJOBS_*`` variables and
``BROKERJOBS_BACKEND_OPTIONS`` (JSON). Needs the ``brokerjobs[otel]`` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Sequence

from brokerjobs import config
from brokerjobs.discovery import get_backend
from brokerjobs.telemetry.health import LoopWatchdog, serve_health
from brokerjobs.telemetry.logs import configure_logging
from brokerjobs.telemetry.queue_stats import QueueStatsGauges
from brokerjobs.telemetry.redact import register_environment_secrets

log = logging.getLogger("brokerjobs.telemetry")


async def serve(
    backend_name: str | None, queues: Sequence[str], port: int, host: str, interval: float
) -> None:
    """Poll and serve until SIGTERM/SIGINT."""
    from opentelemetry.sdk.metrics import MeterProvider

    from brokerjobs.telemetry.prometheus import PrometheusReader

    name = backend_name or config.settings().backend
    raw = os.environ.get("BROKERJOBS_BACKEND_OPTIONS")
    if raw:
        config.configure(backend_options={name: json.loads(raw)})
    backend = get_backend(name)
    reader = PrometheusReader()
    provider = MeterProvider(metric_readers=[reader])
    gauges = QueueStatsGauges(backend, queues, interval=interval, meter_provider=provider)
    watchdog = LoopWatchdog()
    watchdog.start()
    gauges.start()

    def fresh() -> bool:
        last = gauges.last_success
        return last is not None and time.monotonic() - last < 3 * interval

    server = serve_health(port, connected=fresh, watchdog=watchdog, metrics=reader, host=host)
    log.info("serving queue stats of %s on %s:%d", ", ".join(queues), host, server.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        server.stop()
        await gauges.stop()
        await watchdog.stop()
        provider.shutdown()
        with contextlib.suppress(Exception):
            await backend.aclose()
            backend.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve brokerjobs queue stats for Prometheus.")
    parser.add_argument("--backend", default=None, help="backend name (default: configured)")
    parser.add_argument("--queue", required=True, help="comma-separated queue names")
    parser.add_argument("--port", type=int, default=9464)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between polls")
    parser.add_argument("--log-format", choices=["text", "json"], default="text")
    args = parser.parse_args(argv)
    configure_logging(args.log_format)
    register_environment_secrets()
    queues = [name.strip() for name in args.queue.split(",") if name.strip()]
    asyncio.run(serve(args.backend, queues, args.port, args.host, args.interval))


if __name__ == "__main__":
    main()
