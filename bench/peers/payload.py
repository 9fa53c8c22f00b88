"""The no-op job's arguments: a dispatch timestamp and padding to the payload size.

Raw clients send ``TIMESTAMP_WIDTH`` ASCII digits of the dispatch time followed by
padding, so their consumers read the timestamp without parsing JSON. Frameworks get
``(sent_at, pad)`` as task arguments and add their own envelope around them.
"""

from __future__ import annotations

import time

TIMESTAMP_WIDTH = 20


def pad(size: int) -> str:
    """Padding that makes a framework's job arguments about ``size`` bytes."""
    return "x" * max(0, size - TIMESTAMP_WIDTH)


def raw_body(size: int, sent_at: float = 0.0) -> bytes:
    """A raw message of ``size`` bytes (at least the timestamp) carrying ``sent_at``."""
    stamp = f"{sent_at:0{TIMESTAMP_WIDTH}.6f}".encode()
    return stamp + b"x" * max(0, size - TIMESTAMP_WIDTH)


def raw_sent_at(body: bytes) -> float:
    """The dispatch time a :func:`raw_body` carries."""
    return float(body[:TIMESTAMP_WIDTH])


def now() -> float:
    """Wall-clock time shared by every process on the machine."""
    return time.time()
