"""Reading dead letters for the ``dlq`` commands: id prefixes and what to print.

Bodies are parsed by :mod:`brokerjobs.dead_letter_ops` (shared with the dashboard) with
the worker's depth-capped parser: a body is hostile input by definition.
"""

from __future__ import annotations

from brokerjobs.backend import DeadLetter
from brokerjobs.cli.common import CommandFailed
from brokerjobs.dead_letter_ops import Unparsed, job_of, parse_body

__all__ = ["NOT_A_JOB", "Unparsed", "by_prefix", "job_of", "parse_body"]

NOT_A_JOB = "(not a job)"
"""Listed in place of the job name of a body that is not an envelope."""


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
