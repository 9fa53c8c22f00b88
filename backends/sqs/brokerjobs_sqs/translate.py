"""botocore exceptions in, :mod:`brokerjobs.errors` out: nothing from boto escapes the backend."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from brokerjobs.errors import (
    BackendError,
    BrokerUnavailableError,
    ConfigurationError,
    DeliveryLostError,
    DispatchError,
    PublishRejectedError,
    QueueNotFoundError,
)

MISSING_QUEUE_CODES = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"}
)
LOST_RECEIPT_CODES = frozenset(
    {"ReceiptHandleIsInvalid", "InvalidReceiptHandle", "MessageNotInflight"}
)
TRANSIENT_CODES = frozenset(
    {
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "RequestThrottled",
        "Throttling",
        "ThrottlingException",
        "KmsThrottled",
        "RequestTimeout",
        "SlowDown",
    }
)
AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidSecurity",
        "MissingAuthenticationToken",
    }
)

# Access key ids (AKIA/ASIA...) and anything after "Credential=" or "Signature=" in AWS
# error messages; the secret key itself is never sent, but ids and signatures may be echoed.
_SECRET_PATTERNS = (
    re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b"),
    re.compile(r"(Credential=|Signature=|X-Amz-Security-Token=)[^\s,&\"']+"),
)


class SQSAccessDeniedError(BackendError, ConfigurationError, DispatchError):
    """AWS refused the credentials or the IAM policy forbids the call."""


def scrub(text: str) -> str:
    """``text`` with anything that looks like a credential replaced by ``***``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _client_error(exc: ClientError, operation: str, queue: str | None) -> Exception:
    code = error_code(exc)
    message = scrub(str(exc.response.get("Error", {}).get("Message", "")))
    where = f" on queue {queue!r}" if queue else ""
    detail = f"SQS {operation}{where} failed: {code}: {message}"
    if code in MISSING_QUEUE_CODES:
        return QueueNotFoundError(
            queue or "?", "create it (or enable BROKERJOBS_SQS_AUTO_CREATE) and retry"
        )
    if code in LOST_RECEIPT_CODES:
        return DeliveryLostError(
            f"{detail}; the message's lease is gone and another consumer may have it"
        )
    if code in TRANSIENT_CODES:
        return BrokerUnavailableError(detail)
    if code in AUTH_CODES:
        return SQSAccessDeniedError(f"{detail}; check the AWS credentials and IAM policy")
    if operation.startswith("Send"):
        return PublishRejectedError(detail)
    return BackendError(detail)


def translate(exc: BaseException, operation: str, queue: str | None = None) -> Exception:
    """The brokerjobs error for a botocore failure of ``operation`` on ``queue``."""
    where = f" on queue {queue!r}" if queue else ""
    if isinstance(exc, ClientError):
        return _client_error(exc, operation, queue)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ConfigurationError(
            "no usable AWS credentials: set them in the environment, a shared config "
            "profile, an instance role, or BROKERJOBS_SQS_AWS_ACCESS_KEY_ID/_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, NoRegionError):
        return ConfigurationError(
            "no AWS region: set BROKERJOBS_SQS_REGION, AWS_REGION or AWS_DEFAULT_REGION"
        )
    if isinstance(exc, ReadTimeoutError):
        return BrokerUnavailableError(f"SQS {operation}{where} timed out")
    if isinstance(exc, ConnectionError | ConnectionClosedError | HTTPClientError):
        return BrokerUnavailableError(
            f"SQS {operation}{where}: endpoint unreachable ({type(exc).__name__})"
        )
    if isinstance(exc, BotoCoreError):
        return BackendError(f"SQS {operation}{where} failed: {scrub(str(exc))}")
    return BackendError(f"SQS {operation}{where} failed: {type(exc).__name__}")


@contextmanager
def translated(operation: str, queue: str | None = None) -> Iterator[None]:
    """Run the block, re-raising any botocore exception as a brokerjobs error."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise translate(exc, operation, queue) from None
