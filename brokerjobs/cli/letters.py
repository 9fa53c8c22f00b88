"""Reading dead letters for the ``dlq`` commands: bodies are hostile input by definition.

A body is dead-lettered *because* something about it was wrong, so nothing here may
assume it is JSON, UTF-8 or sanely nested. It is parsed with pydantic's JSON parser, the
one the worker decodes envelopes with: it refuses documents nested more than about 200
levels deep instead of recursing (``json.loads`` raises ``RecursionError`` on them).
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json

from brokerjobs.backend import DeadLetter
from brokerjobs.cli.common import CommandFailed

NOT_A_JOB = "(not a job)"
"""Listed in place of the job name of a body that is not an envelope."""


class Unparsed:
    """A body that is not JSON (or is too deeply nested to read): shown as raw bytes."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def parse_body(body: bytes) -> Any:
    """The body as a JSON value, or :class:`Unparsed` with the parser's reason."""
    try:
        return from_json(body)
    except ValueError as exc:
        return Unparsed(str(exc))


def job_of(dead: DeadLetter) -> str | None:
    """The envelope's job name, or None when the body is not an envelope."""
    document = parse_body(dead.body)
    job = document.get("job") if isinstance(document, dict) else None
    return job if isinstance(job, str) else None


def by_prefix(letters: list[DeadLetter], prefix: str) -> DeadLetter | None:
    """The one letter whose id is ``prefix`` or starts with it; None when none does.

    :class:`CommandFailed` when several do: the user must give more of the id.
    """
    exact = [d for d in letters if d.message_id == prefix]
    found = exact or [d for d in letters if d.message_id.startswith(prefix)]
    if len(found) > 1:
        raise CommandFailed(
            f"{len(found)} dead letters have ids starting with {prefix!r}; give more of the id"
        )
    return found[0] if found else None
