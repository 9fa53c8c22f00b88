"""Keeping secrets out of logs, span attributes and error messages.

Three layers, applied by :func:`redact`:

1. Patterns: the password in ``scheme://user:password@host`` URLs, AWS access key ids
   (``AKIA…``/``ASIA…``), and the value in ``password=…``/``aws_secret_access_key: …``
   style pairs.
2. Known secrets: exact values registered with :func:`register_secret`, e.g. everything
   :func:`register_environment_secrets` finds in ``*_PASSWORD``/``*_SECRET*``/``*_TOKEN``
   variables and in the password part of URL-valued variables. This catches secrets
   no pattern can recognise (an AWS secret access key is 40 plain base64 characters).
3. Per job: values of payload fields the job marks sensitive (see
   :func:`sensitive_values`), passed as ``extra``.

A job marks a field sensitive with :data:`Sensitive` (or
``Field(json_schema_extra={"sensitive": True})``); pydantic ``SecretStr`` fields count
too, but they serialise as ``**********`` and so cannot travel in a payload unless the
job adds a serializer.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final
from urllib.parse import unquote

from pydantic import BaseModel, Field, SecretBytes, SecretStr

MASK: Final = "***"
MIN_SECRET_LENGTH: Final = 4
"""Shorter values are not registered: replacing them would shred ordinary text."""

Sensitive = Annotated[str, Field(repr=False, json_schema_extra={"sensitive": True})]
"""A ``str`` payload field kept out of logs, spans, error messages and the job's repr."""

_URL_PASSWORD = re.compile(
    r"(?P<prefix>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)(?P<secret>[^@\s/]+)@"
)
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b")
_SECRET_PAIR = re.compile(
    r"(?i)(?P<prefix>\b[\w.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|"
    r"secret[_\-]?access[_\-]?key|session[_\-]?token)[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<secret>[^\s\"',;&}]+)"
)
_SECRET_ENV_NAME = re.compile(
    r"(?i)(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY|API_KEY)"
)


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: set[str] = set()
        self.pattern: re.Pattern[str] | None = None

    def add(self, values: Iterable[str]) -> None:
        with self.lock:
            fresh = {v for v in values if len(v) >= MIN_SECRET_LENGTH} - self.values
            if not fresh:
                return
            self.values |= fresh
            self.pattern = _alternation(self.values)

    def clear(self) -> None:
        with self.lock:
            self.values.clear()
            self.pattern = None


_registry = _Registry()


def _alternation(values: Iterable[str]) -> re.Pattern[str]:
    # Longest first, so a secret that contains another is masked whole.
    ordered = sorted(values, key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in ordered))


def register_secret(*values: str) -> None:
    """Mask these exact values wherever :func:`redact` runs (process-wide)."""
    _registry.add(values)


def forget_secrets() -> None:
    """Drop every registered secret (for tests)."""
    _registry.clear()


def environment_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """Secret values found in ``environ`` (default: ``os.environ``).

    Values of variables named like ``*PASSWORD*``, ``*SECRET*``, ``*TOKEN*``,
    ``*ACCESS_KEY*``..., and the password of every ``scheme://user:password@host`` URL
    in any variable (raw and percent-decoded).
    """
    found: set[str] = set()
    for name, value in (os.environ if environ is None else environ).items():
        if not value:
            continue
        if _SECRET_ENV_NAME.search(name):
            found.add(value)
        for match in _URL_PASSWORD.finditer(value):
            secret = match.group("secret")
            found.update({secret, unquote(secret)})
    return found


def register_environment_secrets(environ: Mapping[str, str] | None = None) -> None:
    """Register :func:`environment_secrets` (the CLI does this at start-up)."""
    register_secret(*environment_secrets(environ))


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with secrets replaced by ``***`` (see the module docstring)."""
    if not text:
        return text
    pattern = _registry.pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    extra_values = [v for v in extra if len(v) >= MIN_SECRET_LENGTH]
    if extra_values:
        text = _alternation(extra_values).sub(MASK, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"\g<prefix>{MASK}@", text)
    text = _AWS_KEY_ID.sub(MASK, text)
    return _SECRET_PAIR.sub(rf"\g<prefix>{MASK}", text)


_sensitive_fields: dict[type[BaseModel], tuple[str, ...]] = {}


def sensitive_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """Names of ``model``'s fields marked sensitive or typed ``SecretStr``/``SecretBytes``."""
    known = _sensitive_fields.get(model)
    if known is None:
        names = []
        for name, info in model.model_fields.items():
            extra = info.json_schema_extra
            marked = isinstance(extra, dict) and extra.get("sensitive") is True
            if marked or info.annotation in (SecretStr, SecretBytes):
                names.append(name)
        known = _sensitive_fields[model] = tuple(names)
    return known


def sensitive_values(instance: BaseModel) -> tuple[str, ...]:
    """The string values of ``instance``'s sensitive fields (empty for most jobs)."""
    names = sensitive_fields(type(instance))
    if not names:
        return ()
    values = []
    for name in names:
        value: Any = getattr(instance, name, None)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, SecretBytes):
            value = value.get_secret_value().decode(errors="replace")
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            values.append(value)
    return tuple(values)


def redacted_payload(instance: BaseModel) -> dict[str, Any]:
    """``instance.model_dump(mode="json")`` with sensitive fields replaced by ``***``."""
    data = instance.model_dump(mode="json")
    for name in sensitive_fields(type(instance)):
        if name in data:
            data[name] = MASK
    return data
