"""Store keys and header names the guards share between dispatch and the worker.

Keys hash the payload fields they are built from, so they stay short (a store key is at
most 255 characters) and reveal nothing of the payload; the job name stays readable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from brokerjobs.errors import ConfigurationError
from brokerjobs.job import Job

UNIQUE_HEADER = "brokerjobs-unique-key"
"""Envelope header: the uniqueness lock a dispatch took (the worker releases it)."""
IDEMPOTENCY_HEADER = "idempotency-key"
"""Envelope header: the idempotency key the worker records before running the job."""
PREFIX = "bj"


def digest(value: Any) -> str:
    """A short, stable hash of a JSON-able value."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def field_values(job: Job, fields: tuple[str, ...] | None, option: str) -> dict[str, Any]:
    """The payload fields ``fields`` of ``job`` (every field when None)."""
    payload = job.model_dump(mode="json")
    if fields is None:
        return payload
    missing = [name for name in fields if name not in payload]
    if missing:
        raise ConfigurationError(
            f"{type(job).job_name}: {option} names {missing}, which are not fields of the job "
            f"(fields: {sorted(payload)})"
        )
    return {name: payload[name] for name in fields}


def _name(job_name: str) -> str:
    return job_name[-120:]


def unique_key(job: Job) -> str:
    """The uniqueness lock key of ``job`` (its name and its ``unique_by`` fields)."""
    options = type(job).job_options
    values = field_values(job, options.unique_by, "unique_by")
    return f"{PREFIX}:unique:{_name(type(job).job_name)}:{digest(values)}"


def idempotency_key(job: Job, given: str | None) -> str | None:
    """The idempotency header value: ``given``, else derived from ``idempotency_key_by``."""
    if given is not None:
        if not given:
            raise ConfigurationError("idempotency_key must be a non-empty string")
        return given
    fields = type(job).job_options.idempotency_key_by
    if fields is None:
        return None
    return digest(field_values(job, fields, "idempotency_key_by"))


def idempotency_store_key(job_name: str, key: str) -> str:
    """Where the record of idempotency key ``key`` of job ``job_name`` lives."""
    return f"{PREFIX}:idem:{_name(job_name)}:{digest(key)}"


def limit_key(kind: str, job: Job) -> str:
    """The rate (``kind="rate"``) or concurrency (``"conc"``) key for ``job``."""
    options = type(job).job_options
    scope = (
        "*" if options.limit_by is None else digest(field_values(job, options.limit_by, "limit_by"))
    )
    return f"{PREFIX}:{kind}:{_name(type(job).job_name)}:{scope}"


def guard_headers(job: Job, idempotency: str | None) -> Mapping[str, str]:
    """Envelope headers the guards of ``job`` need (empty for a job without guards)."""
    headers: dict[str, str] = {}
    options = type(job).job_options
    if options.unique_for is not None:
        headers[UNIQUE_HEADER] = unique_key(job)
    key = idempotency_key(job, idempotency)
    if key is not None:
        headers[IDEMPOTENCY_HEADER] = key
    return headers
