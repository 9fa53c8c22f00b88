"""Hostile message bodies: hypothesis strategies and a fixed corpus for the real brokers.

Each case says whether the worker must dead-letter it (``dead``) or run it as a normal
job (``runs``: a valid envelope whose trace headers are forged garbage must not break
anything, and its attempt is the broker's count, never a number a publisher wrote).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from hypothesis import strategies as st

from brokerjobs.envelope import MAX_HEADER_VALUE, Envelope, encode, utcnow

Fate = Literal["dead", "runs"]
OVERSIZED = 300 * 1024
"""Over the 256 KiB default limit the worker checks before parsing."""


@dataclass(frozen=True)
class Hostile:
    kind: str
    body: bytes
    fate: Fate
    key: str = ""
    """For ``runs`` cases: the ledger key the job records."""

    def __repr__(self) -> str:
        return f"Hostile({self.kind!r}, {len(self.body)} bytes: {self.body[:60]!r}, {self.fate})"


def envelope_dict(job: str, payload: dict[str, Any], queue: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        encode(
            Envelope(
                id=uuid.uuid4().hex,
                job=job,
                queue=queue,
                payload=payload,
                max_attempts=3,
                created_at=utcnow(),
            )
        )
    )
    return document


def good_body(queue: str, key: str, headers: dict[str, str] | None = None) -> bytes:
    document = envelope_dict("bjfaults.work", {"key": key}, queue)
    document["headers"] = headers or {}
    return json.dumps(document).encode()


def nested_payload(encoded: bytes, depth: int) -> bytes:
    """``encoded`` with its payload nested ``depth`` objects deep (built as text: json.dumps
    itself would recurse too deep)."""
    deep = b'{"key": "k", "x": ' + b'{"k": ' * depth + b'"leaf"' + b"}" * depth + b"}"
    return encoded.replace(b'"payload": {"key": "k"}', b'"payload": ' + deep)


def hostile_cases(queue: str) -> st.SearchStrategy[Hostile]:
    """Every kind of hostile body, for ``queue``."""
    base = envelope_dict("bjfaults.work", {"key": "k"}, queue)
    encoded = json.dumps(base).encode()

    def replaced(field: str, value: Any) -> bytes:
        return json.dumps({**base, field: value}).encode()

    wrong_types = st.sampled_from(
        [
            ("max_attempts", "three"),
            ("max_attempts", -1),
            ("payload", ["not", "a", "dict"]),
            ("headers", {"traceparent": 7}),
            ("created_at", "yesterday"),
            ("v", 2),
            ("job", ""),
            ("id", None),
            ("attempt", 999),  # a forged attempt field: not part of the envelope
        ]
    )
    forged_headers = st.fixed_dictionaries(
        {
            "traceparent": st.text(max_size=80),
            "tracestate": st.text(max_size=80),
            "brokerjobs-attempt": st.sampled_from(["999", "-1", "0", "x"]),
        }
    )
    return st.one_of(
        st.binary(max_size=512).map(lambda b: Hostile("bytes", b, "dead")),
        st.integers(0, len(encoded) - 1).map(lambda n: Hostile("truncated", encoded[:n], "dead")),
        st.just(Hostile("oversized", encoded + b" " * OVERSIZED, "dead")),
        st.integers(250, 3000).map(lambda d: Hostile("nested", nested_payload(encoded, d), "dead")),
        st.integers(5000, 20000).map(
            lambda d: Hostile("nested-array", b"[" * d + b"]" * d, "dead")
        ),
        wrong_types.map(lambda fv: Hostile(f"wrong-{fv[0]}", replaced(*fv), "dead")),
        st.text(min_size=1, max_size=100).map(
            lambda name: Hostile("unknown-job", replaced("job", "no.such." + name), "dead")
        ),
        st.just(
            Hostile(
                "huge-header",
                replaced("headers", {"traceparent": "0" * (MAX_HEADER_VALUE * 64)}),
                "dead",
            )
        ),
        st.just(
            Hostile(
                "many-headers", replaced("headers", {f"h{i}": "v" for i in range(1000)}), "dead"
            )
        ),
        st.just(Hostile("payload-invalid", replaced("payload", {"key": 42}), "dead")),
        st.just(Hostile("pickle", b"\x80\x04\x95\x1a\x00cos\nsystem\n(S'true'\ntR.", "dead")),
        forged_headers.map(lambda h: _forged(queue, h)),
    )


def _forged(queue: str, headers: dict[str, str]) -> Hostile:
    key = "forged-" + uuid.uuid4().hex
    return Hostile("forged-headers", good_body(queue, key, headers), "runs", key)


def corpus(queue: str, oversized: int | None) -> list[Hostile]:
    """One deterministic case of each kind (for the runs on real brokers).

    ``oversized``: a body size over what the worker accepts on that backend, or None
    where the broker itself refuses such a body (SQS: the producer never gets it in).
    """
    base = envelope_dict("bjfaults.work", {"key": "k"}, queue)
    encoded = json.dumps(base).encode()
    forged = {"traceparent": "00-zz-zz-01", "tracestate": "\x00", "brokerjobs-attempt": "999"}
    cases = [
        Hostile("bytes", bytes(range(256)), "dead"),
        Hostile("empty", b"", "dead"),
        Hostile("truncated", encoded[: len(encoded) // 2], "dead"),
        Hostile("nested", b"[" * 10000 + b"]" * 10000, "dead"),
        Hostile("wrong-type", json.dumps({**base, "max_attempts": "three"}).encode(), "dead"),
        Hostile("unknown-job", json.dumps({**base, "job": "no.such.job"}).encode(), "dead"),
        Hostile(
            "huge-header",
            json.dumps({**base, "headers": {"traceparent": "0" * 300_000}}).encode(),
            "dead",
        ),
        Hostile("forged-attempt", json.dumps({**base, "attempt": 99}).encode(), "dead"),
        Hostile("pickle", b"\x80\x04\x95\x1a\x00cos\nsystem\n(S'true'\ntR.", "dead"),
        _forged(queue, forged),
    ]
    if oversized is not None:
        cases.append(Hostile("oversized", encoded + b" " * oversized, "dead"))
    return cases
