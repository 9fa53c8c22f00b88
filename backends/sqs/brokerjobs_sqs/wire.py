"""How a brokerjobs message sits in SQS: the body as text, bookkeeping in a few attributes.

The body is the envelope's bytes, sent as-is when they are text SQS accepts (UTF-8 without
the control characters SQS rejects) and base64-encoded otherwise, so every body comes back
byte-for-byte. Trace context travels inside the body (the attempt is counted by SQS, see
below); the backend uses at most five of SQS's ten message attributes, and only these:

``bj.id``       the brokerjobs message id (SQS assigns its own ids, which change on re-send)
``bj.base``     deliveries already counted before this SQS message existed (see below)
``bj.due``      epoch seconds before which the message must not run (long delays)
``bj.enc``      ``base64`` when the body had to be encoded
``bj.reason``   why the message was dead-lettered (DLQ copies only)
``bj.attempt``  the attempt that was dead-lettered (DLQ copies only)

``Delivery.attempt`` is ``bj.base + ApproximateReceiveCount``. Whenever the backend
re-sends a message instead of letting SQS redeliver it (a release, a delay hop, a retry
longer than the 12 h visibility cap) it sets ``bj.base`` so that the count stays honest.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

ATTR_ID = "bj.id"
ATTR_BASE = "bj.base"
ATTR_DUE = "bj.due"
ATTR_ENCODING = "bj.enc"
ATTR_REASON = "bj.reason"
ATTR_ATTEMPT = "bj.attempt"
MAX_REASON = 4096
"""Reasons are cut to this many characters to stay well inside the message size limit."""

# Characters SQS accepts in a message body (#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
# #x10000-#x10FFFF); anything else makes the body travel base64-encoded.
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DEDUP_SAFE = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")


@dataclass(frozen=True, slots=True)
class Meta:
    """The backend's bookkeeping for one message, carried in its SQS attributes."""

    message_id: str
    base: int = 0
    due: float | None = None
    reason: str | None = None
    attempt: int | None = None


@dataclass(frozen=True, slots=True)
class WireBody:
    """A body as SQS carries it."""

    text: str
    base64: bool

    @classmethod
    def encode(cls, body: bytes) -> WireBody:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return cls(base64.b64encode(body).decode("ascii"), True)
        if _NOT_SQS_TEXT.search(text):
            return cls(base64.b64encode(body).decode("ascii"), True)
        return cls(text, False)

    def decode(self) -> bytes:
        return base64.b64decode(self.text) if self.base64 else self.text.encode("utf-8")


def _string(value: str) -> MessageAttributeValueTypeDef:
    return {"DataType": "String", "StringValue": value}


def _number(value: float | int) -> MessageAttributeValueTypeDef:
    return {
        "DataType": "Number",
        "StringValue": repr(value) if isinstance(value, float) else str(value),
    }


def attributes(meta: Meta, body: WireBody) -> dict[str, MessageAttributeValueTypeDef]:
    """The SQS message attributes carrying ``meta`` (and the body's encoding)."""
    attrs: dict[str, MessageAttributeValueTypeDef] = {ATTR_ID: _string(meta.message_id)}
    if meta.base:
        attrs[ATTR_BASE] = _number(meta.base)
    if meta.due is not None:
        attrs[ATTR_DUE] = _number(round(meta.due, 3))
    if body.base64:
        attrs[ATTR_ENCODING] = _string("base64")
    if meta.reason is not None:
        attrs[ATTR_REASON] = _string(meta.reason[:MAX_REASON] or "-")
    if meta.attempt is not None:
        attrs[ATTR_ATTEMPT] = _number(meta.attempt)
    return attrs


def wire_size(body: WireBody, attrs: dict[str, MessageAttributeValueTypeDef]) -> int:
    """Bytes SQS counts against ``MaximumMessageSize``: body plus attribute names, types, values."""
    size = len(body.text.encode("utf-8"))
    for name, value in attrs.items():
        size += len(name) + len(value["DataType"]) + len(value.get("StringValue", "").encode())
    return size


def _attr(attrs: dict[str, Any], name: str) -> str | None:
    value = attrs.get(name)
    if value is None:
        return None
    text = value.get("StringValue")
    return str(text) if text is not None else None


def parse(message: Any) -> tuple[WireBody, Meta, int]:
    """Body, bookkeeping and ``ApproximateReceiveCount`` of a received SQS message.

    A message sent by something other than brokerjobs has no ``bj.id``; its SQS
    ``MessageId`` stands in, so the worker can still dead-letter it with a reason.
    """
    attrs: dict[str, Any] = message.get("MessageAttributes") or {}
    system: dict[str, str] = message.get("Attributes") or {}
    encoding = _attr(attrs, ATTR_ENCODING)
    body = WireBody(message.get("Body", ""), encoding == "base64")
    base = _attr(attrs, ATTR_BASE)
    due = _attr(attrs, ATTR_DUE)
    attempt = _attr(attrs, ATTR_ATTEMPT)
    meta = Meta(
        message_id=_attr(attrs, ATTR_ID) or str(message.get("MessageId", "")),
        base=int(base) if base else 0,
        due=float(due) if due else None,
        reason=_attr(attrs, ATTR_REASON),
        attempt=int(attempt) if attempt else None,
    )
    count = int(system.get("ApproximateReceiveCount", "1"))
    return body, meta, count


def for_resend(meta: Meta, *, base: int, due: float | None = None) -> Meta:
    """``meta`` for a copy the backend re-sends to the work queue."""
    return replace(meta, base=base, due=due, reason=None, attempt=None)


def printable(text: str) -> str:
    """``text`` with the characters SQS refuses replaced by ``?`` (for attributes)."""
    return _NOT_SQS_TEXT.sub("?", text)


def deduplication_id(message_id: str) -> str:
    """A FIFO ``MessageDeduplicationId`` for ``message_id`` (hashed when SQS would refuse it)."""
    if _DEDUP_SAFE.match(message_id):
        return message_id
    return hashlib.sha256(message_id.encode("utf-8")).hexdigest()
