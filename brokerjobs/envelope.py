"""The wire format: a versioned JSON envelope, encoded and decoded only here.

A message body is UTF-8 JSON of :class:`Envelope`; its JSON Schema lives in
``docs/wire-format/envelope.schema.json`` (regenerate with
``python -m brokerjobs.envelope > docs/wire-format/envelope.schema.json``). Any client
that can publish to the broker can dispatch a job by writing this document.

The attempt number is not in the envelope: the broker counts deliveries (crashes
included) and the body stays byte-for-byte the same across retries and replays.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, ValidationError

from brokerjobs.errors import EnvelopeError

VERSION = 1
MAX_HEADERS = 32
MAX_HEADER_VALUE = 4096

Name = Annotated[str, Field(min_length=1, max_length=200)]
HeaderValue = Annotated[str, Field(max_length=MAX_HEADER_VALUE)]


class Envelope(BaseModel):
    """One job as it travels through the broker."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="brokerjobs envelope",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://brokerjobs.dev/schema/envelope-v1.json",
        },
    )

    v: Literal[1] = Field(default=1, description="Wire format version.")
    id: Name = Field(description="Message id: unique per dispatch, kept across retries.")
    job: Name = Field(description="Registered job name the worker looks up.")
    queue: Name = Field(description="Queue the job was dispatched to.")
    payload: dict[str, JsonValue] = Field(description="The job's fields, validated by its model.")
    max_attempts: int = Field(ge=1, le=1000, description="Runs allowed before dead-lettering.")
    created_at: AwareDatetime = Field(description="When the job was dispatched (RFC 3339).")
    not_before: AwareDatetime | None = Field(
        default=None, description="Earliest start (ETA), or null to run at once."
    )
    headers: dict[Name, HeaderValue] = Field(
        default_factory=dict,
        max_length=MAX_HEADERS,
        description="traceparent, tracestate, correlation-id, idempotency-key, ...",
    )


_serializer = Envelope.__pydantic_serializer__


def encode(envelope: Envelope) -> bytes:
    """The envelope as compact UTF-8 JSON bytes (``envelope.model_dump_json().encode()``).

    The serializer writes bytes itself: going through ``model_dump_json`` would decode
    them to a string only for dispatch to encode it back, on every message.
    """
    return _serializer.to_json(envelope)


def decode(body: bytes, *, max_size: int) -> Envelope:
    """Parse and validate ``body``; any problem is an :class:`EnvelopeError` with the reason.

    The size is checked before parsing; nesting depth is bounded by the parser, which
    refuses documents nested more than about 200 levels instead of recursing.
    """
    if len(body) > max_size:
        raise EnvelopeError(f"message is {len(body)} bytes, over the limit of {max_size} bytes")
    try:
        return Envelope.model_validate_json(body)
    except ValidationError as exc:
        raise EnvelopeError(f"not a brokerjobs envelope: {_summary(exc)}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError(f"not a brokerjobs envelope: {exc}") from None


def _summary(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


# uuid.UUID's layout: the version nibble and the RFC 4122 variant bits of a random UUID.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (4 << 76) | (0x8000 << 48)


def new_message_id() -> str:
    """A new message id: a random UUID (version 4) as 32 hex digits, ``uuid4().hex``.

    Built from ``os.urandom`` directly: ``uuid.uuid4()`` makes a ``UUID`` object only for
    us to format it: twice the cost, on every dispatch.
    """
    value = int.from_bytes(os.urandom(16)) & _UUID4_CLEAR | _UUID4_SET
    return f"{value:032x}"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def json_schema() -> str:
    """The envelope's JSON Schema, as written to docs/wire-format/envelope.schema.json."""
    return json.dumps(Envelope.model_json_schema(mode="validation"), indent=2) + "\n"


if __name__ == "__main__":
    print(json_schema(), end="")
