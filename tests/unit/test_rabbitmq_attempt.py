"""The attempt number read back from a RabbitMQ delivery's headers and redelivered flag."""

from __future__ import annotations

from typing import Any

import pytest
from brokerjobs_rabbitmq.headers import ATTEMPT, attempt


@pytest.mark.parametrize(
    ("headers", "redelivered", "expected"),
    [
        (None, False, 1),
        (None, True, 2),
        ({}, True, 2),
        ({ATTEMPT: 3}, False, 3),
        ({ATTEMPT: 3}, True, 4),
        ({ATTEMPT: 3, "x-delivery-count": 2}, True, 5),
        ({"x-delivery-count": 2}, False, 3),
        ({"x-delivery-count": "junk"}, True, 2),
        ({ATTEMPT: "junk", "x-delivery-count": None}, False, 1),
        ({ATTEMPT: 0, "other": b"x"}, False, 1),
    ],
)
def test_attempt_counts_our_header_plus_crash_redeliveries(
    headers: dict[str, Any] | None, redelivered: bool, expected: int
) -> None:
    assert attempt(headers, redelivered) == expected
