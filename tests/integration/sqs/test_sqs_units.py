"""The SQS backend's pure parts: wire encoding, settings validation, error translation."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoRegionError
from brokerjobs_sqs import SQSAccessDeniedError, SQSBackend
from brokerjobs_sqs.translate import scrub, translate
from brokerjobs_sqs.wire import Meta, WireBody, attributes, deduplication_id, parse, wire_size

from brokerjobs.errors import (
    BrokerUnavailableError,
    ConfigurationError,
    DeliveryLostError,
    QueueNotFoundError,
)

pytestmark = pytest.mark.sqs


@pytest.mark.parametrize(
    ("body", "encoded"),
    [
        (b'{"a": "\\u00e9"}', False),
        ("é 😀".encode(), False),
        (b"\xff\xfe", True),
        (b"\x00", True),
        (b"\x0b vertical tab", True),
    ],
)
def test_bodies_are_text_when_sqs_allows_and_base64_otherwise(body: bytes, encoded: bool) -> None:
    wire = WireBody.encode(body)
    assert wire.base64 is encoded
    message = {
        "MessageId": "sqs-id",
        "Body": wire.text,
        "MessageAttributes": attributes(Meta("job-1", base=2, due=12.5), wire),
        "Attributes": {"ApproximateReceiveCount": "3"},
    }
    decoded, meta, count = parse(message)
    assert decoded.decode() == body
    assert (meta.message_id, meta.base, meta.due, count) == ("job-1", 2, 12.5, 3)


def test_foreign_messages_fall_back_to_the_sqs_message_id() -> None:
    _, meta, count = parse({"MessageId": "abc", "Body": "hello"})
    assert (meta.message_id, meta.base, count) == ("abc", 0, 1)


def test_wire_size_counts_body_bytes_and_attributes() -> None:
    wire = WireBody.encode("é".encode())
    attrs = attributes(Meta("id"), wire)
    assert wire_size(wire, attrs) == 2 + len("bj.id") + len("String") + len("id")


def test_deduplication_ids_are_hashed_when_sqs_would_refuse_them() -> None:
    assert deduplication_id("abc-123") == "abc-123"
    hashed = deduplication_id("with space")
    assert len(hashed) == 64 and " " not in hashed


def test_dead_letter_retention_must_outlive_the_queue() -> None:
    with pytest.raises(ConfigurationError, match="dead_letter_retention"):
        SQSBackend.from_options(message_retention=1_209_600, dead_letter_retention=600)
    with pytest.raises(ConfigurationError, match="wait_time"):
        SQSBackend.from_options(wait_time=21)


def test_secret_settings_never_show() -> None:
    backend = SQSBackend.from_options(
        aws_secret_access_key="s3cr3t-value", endpoint_url="http://u:pw-9876@127.0.0.1:1/"
    )
    for text in (repr(backend), repr(backend.settings), str(backend.settings)):
        assert "s3cr3t-value" not in text and "pw-9876" not in text


def _client_error(code: str, message: str = "m") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "SendMessage")


def test_botocore_errors_become_brokerjobs_errors() -> None:
    expected = {
        "QueueDoesNotExist": QueueNotFoundError,
        "AWS.SimpleQueueService.NonExistentQueue": QueueNotFoundError,
        "ReceiptHandleIsInvalid": DeliveryLostError,
        "ThrottlingException": BrokerUnavailableError,
        "AccessDenied": SQSAccessDeniedError,
    }
    for code, error_class in expected.items():
        assert isinstance(translate(_client_error(code), "SendMessage", "q"), error_class)
    unreachable = EndpointConnectionError(endpoint_url="http://u:pw@h/")
    error = translate(unreachable, "SendMessage", "q")
    assert isinstance(error, BrokerUnavailableError) and "pw" not in str(error)
    assert isinstance(translate(NoRegionError(), "x"), ConfigurationError)


def test_scrub_hides_key_ids_and_signatures() -> None:
    text = "Credential=AKIAIOSFODNN7EXAMPLE/2026 Signature=abcdef0123 key ASIAABCDEFGHIJKLMNOP"
    cleaned = scrub(text)
    assert "AKIAIOSFODNN7EXAMPLE" not in cleaned
    assert "abcdef0123" not in cleaned
    assert "ASIAABCDEFGHIJKLMNOP" not in cleaned
