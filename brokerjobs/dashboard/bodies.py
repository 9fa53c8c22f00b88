"""Showing a dead letter's body safely: capped in size and depth, secrets masked.

The body is whatever reached the dead-letter queue, so it may be hostile: huge, nested
thousands of levels deep, or full of markup. It is never parsed when over
``limit`` bytes, it is parsed by pydantic-core's JSON parser (which refuses documents
nested beyond its recursion limit instead of recursing), and it is shown as text only:
templates escape it and the page's script sets ``textContent``, never ``innerHTML``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import pydantic_core

from brokerjobs.errors import UnknownJobError
from brokerjobs.job import registry
from brokerjobs.telemetry.redact import MASK, redact, sensitive_fields

REASON_LIMIT = 8 * 1024


@dataclass(frozen=True, slots=True)
class BodyView:
    kind: Literal["json", "text", "bytes"]
    text: str
    size: int
    """The body's full length in bytes."""
    truncated: bool


def body_view(body: bytes, limit: int) -> BodyView:
    """``body`` as pretty JSON when it is small enough JSON, else as (capped) text."""
    size = len(body)
    if size > limit:
        return BodyView(_raw_kind(body[:limit]), _raw(body[:limit]), size, truncated=True)
    try:
        document = pydantic_core.from_json(body)
    except ValueError:
        return BodyView(_raw_kind(body), _raw(body), size, truncated=False)
    _mask_sensitive(document)
    text = redact(json.dumps(document, indent=2, ensure_ascii=False))
    return BodyView("json", text[:limit], size, truncated=len(text) > limit)


def reason_text(reason: str) -> str:
    capped = reason if len(reason) <= REASON_LIMIT else reason[:REASON_LIMIT] + "\n[… cut]"
    return redact(capped)


def headline(reason: str, limit: int = 300) -> str:
    """The first line of a (redacted) reason, cut at ``limit`` characters."""
    line = reason.splitlines()[0] if reason else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _raw_kind(body: bytes) -> Literal["text", "bytes"]:
    try:
        body.decode()
    except UnicodeDecodeError:
        return "bytes"
    return "text"


def _raw(body: bytes) -> str:
    try:
        return redact(body.decode())
    except UnicodeDecodeError:
        return repr(body)


def _mask_sensitive(document: Any) -> None:
    """Mask payload fields that the (imported) job marks sensitive."""
    if not isinstance(document, dict):
        return
    name, payload = document.get("job"), document.get("payload")
    if not isinstance(name, str) or not isinstance(payload, dict):
        return
    try:
        job = registry.get(name)
    except UnknownJobError:
        return
    for field_name in sensitive_fields(job):
        if field_name in payload:
            payload[field_name] = MASK
