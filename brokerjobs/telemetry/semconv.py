"""Names from the OpenTelemetry semantic conventions for messaging, plus brokerjobs' own.

Checked against the messaging conventions of semantic-conventions v1.45 (status:
development): span name ``{messaging.operation.name} {destination}``, a PRODUCER span
for ``send`` whose context is the message's creation context, a CONSUMER span for
``process``, and the metrics ``messaging.client.sent.messages``,
``messaging.client.consumed.messages``, ``messaging.client.operation.duration`` and
``messaging.process.duration``.
"""

from __future__ import annotations

from typing import Final

MESSAGING_SYSTEM: Final = "messaging.system"
OPERATION_TYPE: Final = "messaging.operation.type"
OPERATION_NAME: Final = "messaging.operation.name"
DESTINATION_NAME: Final = "messaging.destination.name"
MESSAGE_ID: Final = "messaging.message.id"
BODY_SIZE: Final = "messaging.message.body.size"
CONVERSATION_ID: Final = "messaging.message.conversation_id"
BATCH_COUNT: Final = "messaging.batch.message_count"
ERROR_TYPE: Final = "error.type"

JOB_NAME: Final = "brokerjobs.job.name"
ATTEMPT: Final = "brokerjobs.job.attempt"
MAX_ATTEMPTS: Final = "brokerjobs.job.max_attempts"
OUTCOME: Final = "brokerjobs.job.outcome"
RETRY_DELAY: Final = "brokerjobs.job.retry_delay"
QUEUE_WAIT: Final = "brokerjobs.job.queue_wait"
LINK_TYPE: Final = "brokerjobs.link.type"

SEND: Final = "send"
PROCESS: Final = "process"

DEFAULT_SYSTEM: Final = "brokerjobs"
_WELL_KNOWN_SYSTEMS: Final = {"rabbitmq": "rabbitmq", "sqs": "aws_sqs"}

OUTCOMES: Final = {
    "ack": "success",
    "retry": "retry",
    "dead_letter": "dead_letter",
    "lost": "lost",
    "deferred": "deferred",
}
"""Worker outcome -> the ``brokerjobs.job.outcome`` value."""

DURATION_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1,
    2.5,
    5,
    7.5,
    10,
)
"""Bucket boundaries the conventions advise for messaging duration histograms (seconds)."""
WAIT_BUCKETS: Final = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
"""Queue wait spans milliseconds to hours; these buckets cover that range (seconds)."""


def system_name(backend: str | None) -> str:
    """The ``messaging.system`` value for a backend's entry-point name.

    RabbitMQ and SQS have well-known values (``rabbitmq``, ``aws_sqs``) that MUST be
    used; other backends (memory, sqlite, postgres, mysql) report their own name.
    """
    if not backend:
        return DEFAULT_SYSTEM
    return _WELL_KNOWN_SYSTEMS.get(backend, backend)


def error_type(exc: BaseException) -> str:
    """``error.type`` for an exception: its fully qualified class name (low cardinality)."""
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"
