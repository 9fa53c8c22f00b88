"""What docs/wire-format.md tells producers in other languages actually works.

The JSON example validates; the Node delay-routing helper computes the backend's own
routes; a message published the way the Node example publishes it (default exchange,
routing key prefix + queue, persistent, message id, mandatory) is run by the worker; and
the page's ``aws sqs send-message`` commands, run as they are against an SQS endpoint,
queue a job the worker runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pika
import pytest

from brokerjobs import Job, JobContext
from brokerjobs.envelope import decode, json_schema
from brokerjobs.worker import Worker

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "wire-format.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", PAGE, re.S | re.M)


def _envelope(job: str, queue: str, **extra: Any) -> bytes:
    document = {
        "v": 1,
        "id": os.urandom(16).hex(),
        "job": job,
        "queue": queue,
        "payload": {"user_id": 42},
        "max_attempts": 5,
        "created_at": "2026-11-24T09:30:00Z",
        **extra,
    }
    return json.dumps(document).encode()


def test_the_example_envelope_is_valid() -> None:
    [example] = _blocks("json")
    document = json.loads(example)
    jsonschema.validate(document, json.loads(json_schema()))
    envelope = decode(example.encode(), max_size=256 * 1024)
    assert envelope.not_before is not None and "traceparent" in envelope.headers


def test_every_schema_field_is_documented() -> None:
    fields = json.loads(json_schema())["properties"]
    for name in fields:
        assert f"| `{name}` |" in PAGE, f"field {name!r} missing from the table"


def _delay_route_source() -> str:
    [source] = [block for block in _blocks("javascript") if "function delayRoute" in block]
    return source


def test_the_node_delay_helper_matches_the_rabbitmq_backend() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    from brokerjobs_rabbitmq.settings import RabbitMQSettings
    from brokerjobs_rabbitmq.topology import Topology

    delays = [0, 0.1, 0.25, 0.3, 1, 59.9, 60, 3600, 86400 * 3, 8_640_000]
    script = _delay_route_source() + (
        f"\nconsole.log(JSON.stringify({json.dumps(delays)}.map((d) => delayRoute('emails', d))));"
    )
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    topology = Topology(RabbitMQSettings())
    expected = [
        {"exchange": route.exchange, "routingKey": route.routing_key}
        for route in (topology.route("emails", delay) for delay in delays)
    ]
    assert json.loads(result.stdout) == expected


@pytest.fixture
async def rabbitmq_harness() -> AsyncIterator[Any]:
    from tests.support.backend_rabbitmq import RabbitMQHarness

    harness = RabbitMQHarness()
    try:
        yield harness
    finally:
        await harness.aclose()


def _publish_like_the_node_example(
    prefix: str, exchange: str, routing_key: str, body: bytes
) -> None:
    from brokerjobs_rabbitmq.settings import RabbitMQSettings

    url = RabbitMQSettings().url.get_secret_value()
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        properties = pika.BasicProperties(
            delivery_mode=2, message_id=json.loads(body)["id"], content_type="application/json"
        )
        # mandatory + confirms: raises UnroutableError if no queue took it
        channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)
    finally:
        connection.close()


@pytest.mark.rabbitmq
async def test_a_foreign_rabbitmq_publish_is_run_by_the_worker(rabbitmq_harness: Any) -> None:
    from brokerjobs_rabbitmq.settings import RabbitMQSettings

    assert RabbitMQSettings().prefix == "brokerjobs."  # what the page says producers use
    backend = await rabbitmq_harness.new_rabbitmq_backend()
    queue = "emails"
    ran: list[tuple[int, int]] = []
    name = f"{rabbitmq_harness.prefix}.welcome"

    class Welcome(Job, name=name):
        user_id: int

        def run(self, ctx: JobContext) -> None:
            ran.append((self.user_id, ctx.attempt))

    prefix = f"{rabbitmq_harness.prefix}."
    with pytest.raises(pika.exceptions.UnroutableError):  # the queue is not declared yet
        await asyncio.to_thread(
            _publish_like_the_node_example, prefix, "", prefix + queue, _envelope(name, queue)
        )
    await backend.declare(queue)
    body = _envelope(name, queue)
    await asyncio.to_thread(_publish_like_the_node_example, prefix, "", prefix + queue, body)
    assert await asyncio.wait_for(Worker(backend, [queue], stop_when_idle=True).run(), 30)
    assert ran == [(42, 1)]


@pytest.mark.sqs
async def test_the_aws_cli_example_queues_a_job_the_worker_runs(tmp_path: Path) -> None:
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("the AWS CLI is not installed")
    from tests.support.backend_sqs import SQSHarness, connection_options

    harness = SQSHarness()
    try:
        backend = harness.sqs_backend()
        queue = harness.queue("emails")
        await backend.declare(queue)
        [script] = [block for block in _blocks("bash") if "aws sqs send-message" in block]
        script = script.replace("--queue-name emails", f"--queue-name {queue}")
        script = script.replace('\\"queue\\":\\"emails\\"', f'\\"queue\\":\\"{queue}\\"')
        assert queue in script and script.count(queue) == 2
        options = connection_options()
        # As the page says: add --endpoint-url after each `aws` for a non-AWS endpoint.
        script = script.replace("aws sqs", f"aws --endpoint-url {options['endpoint_url']} sqs")
        assert script.count("--endpoint-url") == 2
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": str(options.get("aws_access_key_id", "testing")),
            "AWS_SECRET_ACCESS_KEY": str(options.get("aws_secret_access_key", "testing")),
            "AWS_DEFAULT_REGION": str(options.get("region", "us-east-1")),
            "HOME": str(tmp_path),
        }
        result = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "MessageId" in result.stdout

        ran: list[tuple[int, str]] = []

        class Welcome(Job, name="emails.welcome"):
            user_id: int

            def run(self, ctx: JobContext) -> None:
                ran.append((self.user_id, ctx.message_id))

        started = time.monotonic()
        worker = Worker(backend, [queue], stop_when_idle=True)
        while not ran and time.monotonic() - started < 20:
            await asyncio.wait_for(worker.run(), 30)
            worker = Worker(backend, [queue], stop_when_idle=True)
        assert len(ran) == 1 and ran[0][0] == 42
        assert re.fullmatch(r"[0-9a-f]{32}", ran[0][1])  # the envelope id, from bj.id
    finally:
        await harness.aclose()


async def test_who_decides_what_as_the_page_says() -> None:
    """The envelope's max_attempts wins over the class's; its queue field is informational."""
    from brokerjobs.backend import OutgoingMessage
    from brokerjobs.memory import MemoryBackend

    assert "| `max_attempts` | producer (the envelope) |" in PAGE
    runs: list[str] = []

    class Fragile(Job, name=f"docs.fragile.{os.urandom(4).hex()}", max_attempts=5):
        user_id: int

        def run(self, ctx: JobContext) -> None:
            runs.append(ctx.queue)
            raise RuntimeError("always")

    backend = MemoryBackend()
    body = _envelope(Fragile.job_name, "some-other-queue", max_attempts=1)
    message_id = json.loads(body)["id"]
    await backend.publish("emails", OutgoingMessage(body=body, message_id=message_id))
    assert await asyncio.wait_for(Worker(backend, ["emails"], stop_when_idle=True).run(), 30)
    assert runs == ["emails"]  # run once (the envelope said 1, the class 5), on its real queue
    [dead] = await backend.dead_letters("emails")
    assert dead.message_id == message_id and "attempts exhausted (1/1)" in dead.reason
