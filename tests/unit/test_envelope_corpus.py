"""One truth for the wire format: the JSON Schema and the decoder judge the same corpus alike.

``tests/unit/envelope_corpus/valid`` and ``invalid`` hold raw message bodies (one case per
file, named after what it tests). Every valid body must pass both the published schema,
with ``format`` checking on, as a producer in another language would run it, and
``brokerjobs.envelope.decode``, the worker's own check; every invalid one must fail both.
The schema side parses the way a strict JSON parser in any language does: UTF-8 only,
no ``NaN``/``Infinity``, one document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from brokerjobs.envelope import decode, json_schema
from brokerjobs.errors import EnvelopeError

CORPUS = Path(__file__).parent / "envelope_corpus"
SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "wire-format" / "envelope.schema.json"
VALIDATOR = jsonschema.Draft202012Validator(
    json.loads(SCHEMA_FILE.read_text(encoding="utf-8")),
    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
)


def _cases(kind: str) -> list[Any]:
    files = sorted((CORPUS / kind).glob("*.json"))
    assert files, f"no corpus files in {CORPUS / kind}"
    return [pytest.param(path.read_bytes(), id=path.stem) for path in files]


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def schema_errors(body: bytes) -> list[str]:
    """Why a strict JSON parser plus the published schema refuse ``body`` (empty: valid)."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except ValueError as exc:  # includes UnicodeDecodeError and JSONDecodeError
        return [f"not JSON: {exc}"]
    return [error.message for error in VALIDATOR.iter_errors(document)]


def test_format_checking_is_really_on() -> None:
    # Without rfc3339-validator installed, jsonschema skips "date-time" silently.
    assert "date-time" in jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema()


@pytest.mark.parametrize("body", _cases("valid"))
def test_valid_bodies_pass_the_schema_and_the_decoder(body: bytes) -> None:
    assert schema_errors(body) == []
    decode(body, max_size=1024 * 1024)


@pytest.mark.parametrize("body", _cases("invalid"))
def test_invalid_bodies_fail_the_schema_and_the_decoder(body: bytes) -> None:
    assert schema_errors(body), "the schema accepts it"
    with pytest.raises(EnvelopeError, match="not a brokerjobs envelope"):
        decode(body, max_size=1024 * 1024)


def test_what_the_decoder_makes_of_the_lenient_spellings() -> None:
    read = {path.stem: decode(path.read_bytes(), max_size=1 << 20) for path in _files("valid")}
    assert read["max_attempts_written_as_5.0"].max_attempts == 5
    assert type(read["max_attempts_written_as_1e3"].max_attempts) is int
    assert read["max_attempts_written_as_1e3"].max_attempts == 1000
    # Python's datetime stops at microseconds: the rest of the fraction is dropped.
    assert read["created_at_fraction_nanoseconds"].created_at.microsecond == 123456
    assert read["surrogate_pair_escape"].payload == {"text": "😀"}
    offset = read["created_at_offset_plus"].created_at
    assert offset == read["minimal"].created_at and offset.utcoffset() is not None


def _files(kind: str) -> list[Path]:
    return sorted((CORPUS / kind).glob("*.json"))
