"""A worker process for the cross-process tests, instrumented as ``brokerjobs consume`` is.

``python -m tests.observability.worker_process BACKEND QUEUE [METRICS_PORT]``; backend
options as JSON in ``BROKERJOBS_BACKEND_OPTIONS``, telemetry from the ``OTEL_*``
variables. Logs go to stderr as JSON lines; console spans to stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from brokerjobs import config
from brokerjobs.discovery import get_backend
from brokerjobs.telemetry.logs import configure_logging
from brokerjobs.telemetry.runtime import observe_worker
from brokerjobs.worker import Worker
from brokerjobs.worker.shutdown import install_signal_handlers


def main() -> None:
    name, queue = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else None
    configure_logging("json")
    import tests.observability.jobs  # noqa: F401 - registers the jobs

    options = json.loads(os.environ.get("BROKERJOBS_BACKEND_OPTIONS") or "{}")
    config.configure(backend_options={name: options})
    backend = get_backend(name)
    worker = Worker(backend, [queue], concurrency=4, shutdown_timeout=10.0)
    observability = observe_worker(worker, metrics_port=port)

    async def work() -> bool:
        remove = install_signal_handlers(worker)
        try:
            async with observability:
                return await worker.run()
        finally:
            remove()
            await backend.aclose()
            backend.close()

    sys.exit(0 if asyncio.run(work()) else 1)


if __name__ == "__main__":
    main()
