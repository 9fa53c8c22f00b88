"""Queue names to SQS queue URLs: resolved once, created on demand when allowed."""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from brokerjobs.errors import ConfigurationError, QueueNotFoundError
from brokerjobs_sqs.client import ClientHolder
from brokerjobs_sqs.settings import MAX_MESSAGE_SIZE, SQSSettings
from brokerjobs_sqs.translate import MISSING_QUEUE_CODES, error_code, translated

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

log = logging.getLogger("brokerjobs.sqs")
_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_FIFO = ".fifo"
_PRODUCTION_HINT = (
    "auto_create is off (production mode): create it with its dead-letter queue and "
    "redrive policy (or run with BROKERJOBS_SQS_AUTO_CREATE=true)"
)


@dataclass(frozen=True, slots=True)
class QueueRef:
    """One resolved work queue and its dead-letter queue."""

    name: str
    """The brokerjobs queue name (without the prefix)."""
    sqs_name: str
    url: str
    fifo: bool
    max_size: int
    """The queue's ``MaximumMessageSize`` in bytes, read once."""
    dead_letter_name: str
    dead_letter_url: str | None
    """None when the DLQ does not exist and may not be created."""

    def require_dead_letter_url(self) -> str:
        if self.dead_letter_url is None:
            raise QueueNotFoundError(self.dead_letter_name, _PRODUCTION_HINT)
        return self.dead_letter_url


class QueueDirectory:
    """Resolves and caches :class:`QueueRef` objects; thread-safe."""

    def __init__(self, settings: SQSSettings, clients: ClientHolder) -> None:
        self._settings = settings
        self._clients = clients
        self._lock = threading.Lock()
        self._refs: dict[str, QueueRef] = {}

    def sqs_name(self, queue: str) -> str:
        name = self._settings.queue_prefix + queue
        stem = name.removesuffix(_FIFO)
        if not _VALID_NAME.match(stem) or len(name) > 80:
            raise ConfigurationError(
                f"SQS queue name {name!r} is invalid: up to 80 letters, digits, '-' or '_' "
                "(plus '.fifo' for FIFO queues)"
            )
        return name

    def dead_letter_name(self, sqs_name: str) -> str:
        fifo = sqs_name.endswith(_FIFO)
        name = sqs_name.removesuffix(_FIFO) + self._settings.dead_letter_suffix
        return name + _FIFO if fifo else name

    def resolve(self, queue: str, *, create: bool | None = None) -> QueueRef:
        """The queue's :class:`QueueRef`; creates it (and its DLQ) if allowed and missing."""
        ref = self._refs.get(queue)
        if ref is not None:
            return ref
        with self._lock:
            ref = self._refs.get(queue)
            if ref is None:
                allowed = self._settings.auto_create if create is None else create
                with translated("resolving queue", queue):
                    ref = self._resolve(queue, allowed)
                self._refs[queue] = ref
            return ref

    def forget(self, queue: str) -> None:
        """Drop a cached queue (it was deleted): the next use resolves it again."""
        self._refs.pop(queue, None)

    def cached(self) -> list[QueueRef]:
        return list(self._refs.values())

    def _resolve(self, queue: str, create: bool) -> QueueRef:
        client = self._clients.client
        sqs_name = self.sqs_name(queue)
        fifo = sqs_name.endswith(_FIFO)
        url = self._lookup(client, sqs_name)
        if url is None:
            if not create:
                raise QueueNotFoundError(sqs_name, _PRODUCTION_HINT)
            url = self._create(client, sqs_name, fifo)
        with translated("GetQueueAttributes", sqs_name):
            attrs = client.get_queue_attributes(
                QueueUrl=url, AttributeNames=["MaximumMessageSize", "RedrivePolicy"]
            )["Attributes"]
        dead_name = self.dead_letter_name(sqs_name)
        policy = attrs.get("RedrivePolicy")
        if policy:
            dead_name = str(json.loads(policy)["deadLetterTargetArn"]).rsplit(":", 1)[-1]
        else:
            _warn_no_redrive_policy(sqs_name, dead_name)
        dead_url = self._lookup(client, dead_name)
        if dead_url is None and create:
            dead_url = self._create_dead_letter_queue(client, dead_name, fifo)
        return QueueRef(
            name=queue,
            sqs_name=sqs_name,
            url=url,
            fifo=fifo,
            max_size=int(attrs.get("MaximumMessageSize", MAX_MESSAGE_SIZE)),
            dead_letter_name=dead_name,
            dead_letter_url=dead_url,
        )

    @staticmethod
    def _lookup(client: SQSClient, sqs_name: str) -> str | None:
        try:
            return client.get_queue_url(QueueName=sqs_name)["QueueUrl"]
        except ClientError as exc:
            if error_code(exc) in MISSING_QUEUE_CODES:
                return None
            with translated("GetQueueUrl", sqs_name):
                raise

    def _create_dead_letter_queue(self, client: SQSClient, dead_name: str, fifo: bool) -> str:
        attributes: dict[QueueAttributeNameType, str] = {
            "MessageRetentionPeriod": str(self._settings.dead_letter_retention)
        }
        if fifo:
            attributes["FifoQueue"] = "true"
        with translated("CreateQueue", dead_name):
            return client.create_queue(QueueName=dead_name, Attributes=attributes)["QueueUrl"]

    def _create(self, client: SQSClient, sqs_name: str, fifo: bool) -> str:
        settings = self._settings
        dead_name = self.dead_letter_name(sqs_name)
        dead_url = self._lookup(client, dead_name) or self._create_dead_letter_queue(
            client, dead_name, fifo
        )
        with translated("GetQueueAttributes", dead_name):
            dead_arn = client.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
        attributes: dict[QueueAttributeNameType, str] = {
            "VisibilityTimeout": str(settings.visibility_timeout),
            "MessageRetentionPeriod": str(settings.message_retention),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead_arn, "maxReceiveCount": settings.max_receive_count}
            ),
        }
        if fifo:
            attributes["FifoQueue"] = "true"
        try:
            return client.create_queue(QueueName=sqs_name, Attributes=attributes)["QueueUrl"]
        except ClientError as exc:
            # Created meanwhile by another process with other attributes: use it as it is.
            if error_code(exc) in {"QueueAlreadyExists", "QueueNameExists"}:
                url = self._lookup(client, sqs_name)
                if url is not None:
                    return url
            with translated("CreateQueue", sqs_name):
                raise


def _warn_no_redrive_policy(sqs_name: str, dead_name: str) -> None:
    # Created by someone else (a producer, a console click): used as it is. The worker's
    # own poison check (attempt > max_attempts, after decoding) still applies, but nothing
    # on the SQS side bounds a message that kills its worker before that check.
    log.warning(
        "SQS queue %r has no RedrivePolicy: only the worker's max_attempts check bounds a "
        "message that keeps crashing its worker; give the queue a RedrivePolicy with "
        "deadLetterTargetArn %r (the queues brokerjobs creates have one)",
        sqs_name,
        dead_name,
    )
