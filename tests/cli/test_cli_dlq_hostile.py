"""Every ``dlq`` command works whatever a dead letter's body is: it is hostile input.

The bodies are published raw to the test's SQLite file and dead-lettered by the real
worker (they are not envelopes), then read back through the real ``brokerjobs`` command.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from brokerjobs.backend import OutgoingMessage
from brokerjobs.discovery import backend_class
from tests.cli.conftest import Cli, one_line_error

DEEP = b"[" * 100_000 + b"]" * 100_000
QUEUE = "cli-hostile"


def park_raw(cli: Cli, bodies: list[bytes], ids: list[str] | None = None) -> list[str]:
    """Publish ``bodies`` as they are and let a worker dead-letter them; their ids."""
    ids = ids or [uuid.uuid4().hex for _ in bodies]

    async def publish() -> None:
        async with backend_class("sqlite")(path=cli.path) as backend:
            for body, message_id in zip(bodies, ids, strict=True):
                await backend.publish(QUEUE, OutgoingMessage(body=body, message_id=message_id))

    asyncio.run(publish())
    worker = cli.start("consume", "--queue", QUEUE)
    lines = worker.next_lines(len(bodies))
    code, err = worker.stop()
    assert code == 0, err
    assert all(line.startswith("☠ ") for line in lines), lines
    return ids


@pytest.mark.parametrize(
    "body",
    [DEEP, b"\xff\xfe not UTF-8", b'{"job": "\\ud800", "payload": {}}'],
    ids=["nested-100000-deep", "not-utf8", "lone-surrogate"],
)
def test_every_dlq_command_survives_a_hostile_body(cli: Cli, body: bytes) -> None:
    [message_id] = park_raw(cli, [body])

    for args in (
        ["dlq", "list", QUEUE],
        ["dlq", "list", QUEUE, "--json"],
        ["dlq", "list", QUEUE, "--filter", "job=Anything"],
    ):
        result = cli(*args)
        assert "Traceback" not in result.err, (args, result.err[-2000:])
        assert result.code == 0, (args, result.err[-2000:])
    assert f"☠ {message_id[:8]}… (not a job) attempt" in cli("dlq", "list", QUEUE).out
    [row] = [json.loads(line) for line in cli("dlq", "list", QUEUE, "--json").out.splitlines()]
    assert row["message_id"] == message_id and row["job"] is None

    shown = cli("dlq", "show", QUEUE, message_id[:8])
    assert shown.code == 0 and "Traceback" not in shown.err, shown.err[-2000:]
    assert "body (not readable as JSON: " in shown.out
    assert f"{len(body)} bytes): {body[:500]!r}" in shown.out

    filtered = cli("dlq", "replay", QUEUE, "--filter", "job=Anything")
    one_line_error(filtered)  # nothing matched: exit 1, one line, no traceback
    assert filtered.code == 1
    assert cli("dlq", "replay", QUEUE, "--id", message_id).code == 0
    stats = json.loads(cli("stats", "--queue", QUEUE, "--json").out)["queues"][0]
    assert (stats["ready"], stats["dead"]) == (1, 0)
