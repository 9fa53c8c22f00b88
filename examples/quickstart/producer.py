"""Dispatches the example jobs in a loop to one or more backends (the compose producer).

    python -m examples.quickstart.producer --backends rabbitmq,sqs --interval 2

Each round is one "signup" span (when tracing is on) under which the dispatches happen,
so a trace viewer shows signup → send → the job's run in the worker. Tracing is set up
from the standard ``OTEL_*`` variables exactly as ``brokerjobs consume`` does it
(:func:`brokerjobs.telemetry.sdk.configure_sdk_from_env`; the SDK and the OTLP/HTTP
exporter are in the Docker image).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Sequence

from opentelemetry import trace

import brokerjobs
from brokerjobs.errors import BrokerJobsError
from brokerjobs.telemetry.sdk import configure_sdk_from_env
from examples.quickstart.jobs import ResizeImage, SendWelcomeEmail

log = logging.getLogger("examples.producer")


def dispatch_round(number: int, backends: Sequence[str]) -> list[str]:
    """Dispatch one welcome mail and one (sometimes flaky) resize to every backend."""
    tracer = trace.get_tracer("examples.producer")
    ids = []
    with tracer.start_as_current_span("signup"):
        for backend in backends:
            ids.append(brokerjobs.dispatch(SendWelcomeEmail(user_id=number), backend=backend))
            job = ResizeImage(image_id=number, flaky=number % 3 == 0)
            ids.append(brokerjobs.dispatch(job, backend=backend))
    return ids


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=os.environ.get("BROKERJOBS_BACKEND", "sqlite"))
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between rounds")
    parser.add_argument("--count", type=int, default=0, help="rounds to run (0: forever)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    telemetry = configure_sdk_from_env()
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    number = 0
    try:
        while args.count == 0 or number < args.count:
            number += 1
            try:
                ids = dispatch_round(number, backends)
                names = ", ".join(backends)
                log.info("round %d: dispatched %d jobs to %s", number, len(ids), names)
            except BrokerJobsError as exc:  # a broker still starting: try again next round
                log.warning("round %d failed: %s", number, exc)
            if args.count == 0 or number < args.count:
                time.sleep(args.interval)
    finally:
        telemetry.shutdown()  # flushes buffered spans
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
