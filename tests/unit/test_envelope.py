from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import JsonValue

from brokerjobs.envelope import Envelope, decode, encode, json_schema, new_message_id, utcnow
from brokerjobs.errors import EnvelopeError

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "wire-format" / "envelope.schema.json"


def _envelope(**changes: object) -> Envelope:
    fields: dict[str, object] = {
        "id": "abc",
        "job": "j",
        "queue": "q",
        "payload": {"x": 1},
        "max_attempts": 3,
        "created_at": utcnow(),
    }
    fields.update(changes)
    return Envelope.model_validate(fields)


def test_round_trip_keeps_every_field() -> None:
    sent = _envelope(headers={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"})
    assert decode(encode(sent), max_size=10_000) == sent


def test_schema_file_matches_the_model() -> None:
    assert SCHEMA_FILE.read_text() == json_schema(), (
        "docs/wire-format/envelope.schema.json is stale; regenerate it with "
        "`python -m brokerjobs.envelope > docs/wire-format/envelope.schema.json`"
    )


def test_encoded_envelope_validates_against_the_published_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    document = json.loads(encode(_envelope()))
    assert set(document) <= set(schema["properties"])
    assert set(schema["required"]) <= set(document)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not a brokerjobs envelope"),
        (b"\xff\xfe garbage", "not a brokerjobs envelope"),
        (b"[1, 2, 3]", "not a brokerjobs envelope"),
        (b'{"v": 2}', "v:"),
        (b"[" * 10_000 + b"]" * 10_000, "not a brokerjobs envelope"),
        (b'{"id": "x"}', "job: Field required"),
    ],
)
def test_bad_bodies_are_envelope_errors_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        decode(body, max_size=1_000_000)


def test_size_is_checked_before_parsing() -> None:
    with pytest.raises(EnvelopeError, match="over the limit of 10 bytes"):
        decode(b" " * 11, max_size=10)


def test_naive_timestamps_and_huge_headers_are_refused() -> None:
    body = encode(_envelope()).replace(b'Z"', b'"')
    with pytest.raises(EnvelopeError, match="created_at"):
        decode(body, max_size=10_000)
    with pytest.raises(ValueError, match="at most 4096"):
        _envelope(headers={"h": "x" * 5000})


PINNED_PAYLOAD: dict[str, JsonValue] = {
    "user_id": 42, "ratio": 0.1, "big": 1e16, "tiny": 1e-7,
    "name": 'Zoë "quoted" \n ✓', "tags": ["a", None, True],
    "nested": {"x": [1, 2.5, {"y": False}]},
}  # fmt: skip


def test_encoded_bytes_are_pinned() -> None:
    # The wire format, byte for byte: a change here breaks producers in other languages
    # that compare or sign bodies, and must be a deliberate new envelope version.
    envelope = Envelope(
        id="0123456789abcdef0123456789abcdef",
        job="app.jobs.Résumé",
        queue="emails",
        payload=PINNED_PAYLOAD,
        max_attempts=5,
        created_at=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        not_before=datetime(2024, 5, 6, 7, 9, 9, 123456, tzinfo=UTC),
        headers={
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "correlation-id": "ü-1",
        },
    )
    expected = (
        '{"v":1,"id":"0123456789abcdef0123456789abcdef","job":"app.jobs.Résumé",'
        '"queue":"emails","payload":{"user_id":42,"ratio":0.1,"big":1e+16,"tiny":1e-7,'
        '"name":"Zoë \\"quoted\\" \\n ✓","tags":["a",null,true],'
        '"nested":{"x":[1,2.5,{"y":false}]}},"max_attempts":5,'
        '"created_at":"2024-05-06T07:08:09.123456Z","not_before":"2024-05-06T07:09:09.123456Z",'
        '"headers":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",'
        '"correlation-id":"ü-1"}}'
    ).encode()
    assert encode(envelope) == expected
    assert encode(envelope) == envelope.model_dump_json().encode()


def test_message_ids_are_uuid4_hex() -> None:
    ids = {new_message_id() for _ in range(1000)}
    assert len(ids) == 1000
    for message_id in ids:
        parsed = uuid.UUID(hex=message_id)
        assert (parsed.hex, parsed.version, parsed.variant) == (message_id, 4, uuid.RFC_4122)
