"""Message headers brokerjobs writes, and the attempt count read back from them.

The attempt count lives in our own header, ``brokerjobs-attempt`` (absent = 1), because
RabbitMQ ≥ 3.13 drops client-set ``x-death``. Crash redeliveries add to it: the quorum
queue's ``x-delivery-count`` (returns of this very message), or 1 when a classic queue
sets the ``redelivered`` flag (classic queues cannot tell one crash from several).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from pamqp.commands import Basic

ATTEMPT = "brokerjobs-attempt"
REASON = "brokerjobs-reason"
ORIGIN = "brokerjobs-queue"
DEAD_AT = "brokerjobs-dead-at"
PERSISTENT = 2
CONTENT_TYPE = "application/json"  # the envelope; foreign producers are asked to set it too
_REASON_LIMIT = 8192


def properties(message_id: str, headers: dict[str, Any] | None = None) -> Basic.Properties:
    """Persistent message properties with our id, headers and the body's type (JSON)."""
    return Basic.Properties(
        delivery_mode=PERSISTENT,
        message_id=message_id,
        headers=headers,
        content_type=CONTENT_TYPE,
    )


def own_headers(headers: dict[str, Any] | None) -> dict[str, Any]:
    """``headers`` without the broker's ``x-*`` bookkeeping (x-death, x-delivery-count...)."""
    if not headers:
        return {}
    return {key: value for key, value in headers.items() if not key.startswith("x-")}


def header_attempt(headers: dict[str, Any] | None) -> int:
    value = (headers or {}).get(ATTEMPT, 1)
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def attempt(headers: dict[str, Any] | None, redelivered: bool) -> int:
    """The attempt number of a delivery (see the module docstring)."""
    if not headers:  # a first dispatch carries none: the common case, kept cheap
        return 2 if redelivered else 1
    base = header_attempt(headers)
    crashes = 1 if redelivered else 0
    # The redelivered flag is the floor: brokers that stop counting some returns in
    # x-delivery-count (RabbitMQ 4.3) still count a crash as at least one attempt.
    with contextlib.suppress(TypeError, ValueError):
        crashes = max(crashes, int(headers.get("x-delivery-count", 0)))
    return base + crashes


def with_attempt(headers: dict[str, Any] | None, value: int) -> dict[str, Any]:
    """A copy of our headers with the attempt set to ``value``."""
    result = own_headers(headers)
    result[ATTEMPT] = value
    return result


def dead_letter_headers(
    headers: dict[str, Any] | None, *, queue: str, attempt_number: int, reason: str
) -> dict[str, Any]:
    result = with_attempt(headers, attempt_number)
    result[REASON] = reason[:_REASON_LIMIT]
    result[ORIGIN] = queue
    result[DEAD_AT] = time.time()
    return result


def replay_headers(headers: dict[str, Any] | None) -> dict[str, Any]:
    """Headers for a replayed dead letter: reason and broker bookkeeping dropped, attempt 1."""
    result = own_headers(headers)
    for key in (REASON, ORIGIN, DEAD_AT):
        result.pop(key, None)
    result[ATTEMPT] = 1
    return result


def text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def broker_reason(headers: dict[str, Any] | None) -> str:
    """Why the broker dead-lettered a message it moved itself (delivery limit...)."""
    headers = headers or {}
    reason = text(headers.get("x-first-death-reason", "unknown"))
    if reason == "delivery_limit":
        count = headers.get("x-delivery-count", "?")
        return (
            f"delivery limit reached: delivered {count} times without being settled "
            "(the job crashed or lost its worker each time)"
        )
    return f"dead-lettered by RabbitMQ ({reason})"
