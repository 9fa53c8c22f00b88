"""The wire format: a versioned JSON envelope, encoded and decoded only here.

A message body is UTF-8 JSON of :class:`Envelope`; its JSON Schema lives in
``docs/wire-format/envelope.schema.json`` (regenerate with
``python -m brokerjobs.envelope > docs/wire-format/envelope.schema.json``). Any client
that can publish to the broker can dispatch a job by writing this document.

The attempt number is not in the envelope: the broker counts deliveries (crashes
included) and the body stays byte-for-byte the same across retries and replays.

The decoder and the schema accept exactly the same documents (``tests/unit/envelope_corpus``
holds the cases, and a test runs both over them): integers are JSON integers (``5`` or
``5.0``, never ``"5"`` or ``true``), timestamps are RFC 3339 with an upper-case ``T`` and a
time zone (``Z`` or ``±HH:MM``), and text is Unicode without lone surrogates. The schema
repeats as ``pattern``s what ``format`` checks (validators skip ``format`` unless told)
and what the parser refuses without the schema saying so (lone surrogates).
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    WithJsonSchema,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from brokerjobs.errors import EnvelopeError

VERSION = 1
MAX_HEADERS = 32
MAX_HEADER_VALUE = 4096

RFC3339_PATTERN = (
    r"^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$(?!\n)"
)
r"""RFC 3339 ``date-time`` as both Python's ``re`` and ECMA-262 read it.

Stricter than the RFC where validators and ``datetime`` part ways: upper-case ``T`` and
``Z`` only (Python's ``jsonschema`` format check refuses lower case, ajv-formats takes a
space), no leap second (``datetime`` has no ``:60``), no year 0. ``[0-9]`` because Python's
``\d`` matches any Unicode digit; ``$(?!\n)`` because Python's ``$`` also matches before a
final newline.
"""

TEXT_PATTERN = r"^[^\uD800-\uDFFF]*$"
r"""No lone surrogate: the parser refuses ``"\ud800"`` (it cannot become UTF-8 again)."""

_RFC3339 = re.compile(RFC3339_PATTERN)


def _whole_number(value: Any) -> Any:
    """JSON Schema's ``integer``: ``5`` and ``5.0`` pass, ``true`` and ``"5"`` do not."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise PydanticCustomError("int_type", "Input should be a JSON integer")


def _rfc3339(value: Any) -> Any:
    """Strings must be RFC 3339 date-times; ``datetime`` objects (from Python) pass as they are."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _RFC3339.match(value):
        return value
    raise PydanticCustomError(
        "datetime_format",
        "Input should be an RFC 3339 date-time with a time zone, like 2026-11-24T09:30:00Z",
    )


Name = Annotated[str, Field(min_length=1, max_length=200)]
HeaderValue = Annotated[str, Field(max_length=MAX_HEADER_VALUE)]
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}),
]


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

    v: Annotated[Literal[1], BeforeValidator(_whole_number)] = Field(
        default=1, description="Wire format version."
    )
    id: Name = Field(description="Message id: unique per dispatch, kept across retries.")
    job: Name = Field(description="Registered job name the worker looks up.")
    queue: Name = Field(description="Queue the job was dispatched to.")
    payload: dict[str, JsonValue] = Field(description="The job's fields, validated by its model.")
    max_attempts: WholeNumber = Field(
        ge=1, le=1000, description="Runs allowed before dead-lettering."
    )
    created_at: Timestamp = Field(description="When the job was dispatched (RFC 3339).")
    not_before: Timestamp | None = Field(
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
        envelope = Envelope.model_validate_json(body)
    except ValidationError as exc:
        raise EnvelopeError(f"not a brokerjobs envelope: {_summary(exc)}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError(f"not a brokerjobs envelope: {exc}") from None
    # The parser takes NaN and Infinity, which are not JSON (and would go out again as
    # null). A byte search is nearly free; only a body that mentions them is walked.
    if (b"NaN" in body or b"Infinity" in body) and not _finite(envelope.payload):
        raise EnvelopeError("not a brokerjobs envelope: payload: NaN and Infinity are not JSON")
    return envelope


def _finite(value: JsonValue) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    return True


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


class _SchemaGenerator(GenerateJsonSchema):
    """Pydantic's schema, plus the rule its parser enforces without saying so."""

    def generate(self, schema: core_schema.CoreSchema, mode: Any = "validation") -> JsonSchemaValue:
        result = super().generate(schema, mode=mode)
        # Pydantic describes JsonValue as {} (anything); the parser refuses lone
        # surrogates in every string and object key, however deeply nested.
        result["$defs"]["JsonValue"] = {
            "description": "Any JSON value; its strings and keys have no lone surrogates.",
            "type": ["null", "boolean", "number", "string", "array", "object"],
            "items": {"$ref": "#/$defs/JsonValue"},
            "additionalProperties": {"$ref": "#/$defs/JsonValue"},
        }
        _forbid_lone_surrogates(result)
        return result


def _forbid_lone_surrogates(node: Any) -> None:
    """Give every free-text string and every map's keys :data:`TEXT_PATTERN`."""
    if isinstance(node, list):
        for item in node:
            _forbid_lone_surrogates(item)
        return
    if not isinstance(node, dict):
        return
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    if "string" in types and "pattern" not in node and "const" not in node:
        node["pattern"] = TEXT_PATTERN
    if "object" in types and "properties" not in node:
        node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": TEXT_PATTERN}
    for key, value in node.items():
        if key != "propertyNames":
            _forbid_lone_surrogates(value)


def json_schema() -> str:
    """The envelope's JSON Schema, as written to docs/wire-format/envelope.schema.json."""
    schema = Envelope.model_json_schema(mode="validation", schema_generator=_SchemaGenerator)
    return json.dumps(schema, indent=2) + "\n"


if __name__ == "__main__":
    print(json_schema(), end="")
