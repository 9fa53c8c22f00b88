from __future__ import annotations

import json
from pathlib import Path

import pytest

from brokerjobs.envelope import Envelope, decode, encode, json_schema, utcnow
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
