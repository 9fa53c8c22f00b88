"""Container health check: the worker's health endpoint must answer 200.

Run by the image's HEALTHCHECK. The worker serves ``GET /healthz`` on its
``--metrics-port``; this script reads the port from ``BROKERJOBS_METRICS_PORT`` (default
9464, the port the image's default command passes) and exits 0 when healthy, 1 otherwise.
Standard library only: the slim image has no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_PORT = "9464"


def main() -> int:
    port = os.environ.get("BROKERJOBS_METRICS_PORT", DEFAULT_PORT)
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            healthy = response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    if not healthy:
        print(f"unhealthy: {url} answered {response.status}", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
