"""Settings of the SQS backend, read from ``BROKERJOBS_SQS_*`` environment variables.

Credentials come from the standard AWS chain (environment, shared config, instance role)
unless given here; when given they are :class:`~pydantic.SecretStr` and never printed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_VISIBILITY = 43_200
"""SQS caps a message's visibility at 12 h after it was received."""
MAX_NATIVE_DELAY = 900
"""SQS ``DelaySeconds`` cap (15 min)."""
MAX_MESSAGE_SIZE = 1_048_576
"""Largest ``MaximumMessageSize`` SQS allows (1 MiB)."""


class SQSSettings(BaseSettings):
    """Every knob of the SQS backend; override any of them in ``SQSBackend.from_options``."""

    model_config = SettingsConfigDict(env_prefix="BROKERJOBS_SQS_", extra="forbid")

    endpoint_url: str | None = None
    """Another SQS endpoint (moto, ElasticMQ, LocalStack); None for AWS itself."""
    region: str | None = None
    """AWS region; None: ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else the shared config
    (see :meth:`resolved_region`)."""
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None

    queue_prefix: str = ""
    """Prepended to every brokerjobs queue name to form the SQS queue name."""
    dead_letter_suffix: str = "-dlq"
    """The dead-letter queue of ``name`` is ``name + suffix`` (before ``.fifo``)."""
    auto_create: bool = True
    """Create missing queues (and their DLQ). False in production: a missing queue is an error."""

    visibility_timeout: int = Field(30, ge=1, le=MAX_VISIBILITY)
    """Lease of a received message; the subscription renews it every third of this."""
    wait_time: int = Field(10, ge=0, le=20)
    """Long-polling ``WaitTimeSeconds``; ``Subscription.stop()`` may wait this long."""
    max_receive_count: int = Field(20, ge=1, le=1000)
    """Redrive safety net: a message received this many times moves to the DLQ."""
    message_retention: int = Field(345_600, ge=60, le=1_209_600)
    dead_letter_retention: int = Field(1_209_600, ge=60, le=1_209_600)
    """Must exceed ``message_retention``: SQS keeps the original enqueue time on redrive."""

    max_native_delay: int = Field(MAX_NATIVE_DELAY, ge=1, le=MAX_NATIVE_DELAY)
    """Longest ``DelaySeconds`` per hop; longer delays re-send until due."""
    message_group: str = "default"
    """``MessageGroupId`` for FIFO queues when the message names no group."""

    max_pollers: int = Field(4, ge=1, le=64)
    """Upper bound on concurrent ``ReceiveMessage`` calls per queue of a subscription."""
    max_threads: int = Field(32, ge=2, le=512)
    """Threads (and HTTP connections) used for boto3 calls by one backend."""
    ack_linger: float = Field(0.005, ge=0, le=1)
    """Seconds an ack waits for others to share one ``DeleteMessageBatch``."""
    batch_attempts: int = Field(4, ge=1, le=20)
    """Tries for batch entries reported ``Failed`` by SQS before giving up."""
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(10.0, gt=0)
    """Per-call timeout beyond the long poll; a publish never waits longer."""

    @model_validator(mode="after")
    def _dead_letters_outlive_messages(self) -> SQSSettings:
        if self.dead_letter_retention <= self.message_retention:
            raise ValueError(
                "dead_letter_retention must exceed message_retention: SQS keeps a message's "
                "original enqueue time when it moves to the DLQ, so a shorter DLQ retention "
                "would expire dead letters early"
            )
        return self

    def resolved_region(self) -> str | None:
        """The region to use: this setting, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``.

        botocore reads only ``AWS_DEFAULT_REGION`` (and the shared config file); the AWS
        runtimes (Lambda, ECS) and the other SDKs set ``AWS_REGION``. None leaves the
        choice to botocore's chain (a profile's ``region``).
        """
        return (
            self.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or None
        )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A password in the endpoint URL must not reach logs through repr().
        for name, value in super().__repr_args__():
            yield name, self.safe_endpoint() if name == "endpoint_url" else value

    def safe_endpoint(self) -> str | None:
        """The endpoint URL without any user:password part, fit for logs and reprs."""
        if self.endpoint_url is None:
            return None
        parts = urlsplit(self.endpoint_url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
