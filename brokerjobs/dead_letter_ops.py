"""Dead-letter operations shared by ``brokerjobs dlq`` and the dashboard.

Both front ends list, replay and purge through these functions, so a filter or a replay
gives the same result whichever one an operator uses. Only the backend contract's
``dead_letters``/``replay_dead_letters``/``purge_dead_letters``/``stats`` are used: the
backend lists, it does not search, so filtering reads up to :data:`SCAN_LIMIT` letters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from brokerjobs.backend import Backend, DeadLetter

SCAN_LIMIT = 10_000
"""Dead letters read at most when filtering (the backend lists, it does not search)."""
REPLAY_CHUNK = 50
"""Dead letters moved per backend call, so progress shows and one call stays short."""


def display_name(job_name: str | None) -> str:
    """The last dotted part of a job name (``app.jobs.SendEmail`` → ``SendEmail``)."""
    if not job_name:
        return "(not a job)"
    return job_name.rsplit(".", 1)[-1]


def job_of(dead: DeadLetter) -> str | None:
    """The envelope's job name, or None when the body is not one of our envelopes."""
    try:
        document = json.loads(dead.body)
    except (ValueError, RecursionError):
        return None
    job = document.get("job") if isinstance(document, dict) else None
    return job if isinstance(job, str) else None


def matches(dead: DeadLetter, job: str | None) -> bool:
    """True when ``job`` is None or names the letter's job (full or class name)."""
    if job is None:
        return True
    name = job_of(dead) or ""
    return name == job or display_name(name) == job


async def listing(backend: Backend, queue: str, job: str | None, limit: int) -> list[DeadLetter]:
    """Up to ``limit`` dead letters of ``queue``, of ``job`` only when given."""
    scan = limit if job is None else SCAN_LIMIT
    return [d for d in await backend.dead_letters(queue, limit=scan) if matches(d, job)][:limit]


async def chosen_ids(
    backend: Backend, queue: str, ids: Sequence[str], job: str | None, limit: int | None
) -> list[str] | None:
    """The message ids a replay of ``ids``/``job`` moves; None means "every letter"."""
    if not ids and job is None:
        return None
    return [
        d.message_id
        for d in await listing(backend, queue, job, SCAN_LIMIT)
        if not ids or d.message_id in ids
    ][:limit]


async def replay(
    backend: Backend,
    queue: str,
    *,
    ids: Sequence[str] = (),
    job: str | None = None,
    limit: int | None = None,
    started: Callable[[int], None] = lambda target: None,
    progress: Callable[[int], None] = lambda moved: None,
) -> int:
    """Move dead letters of ``queue`` back to it (attempt 1 again); returns how many moved.

    ``ids`` and ``job`` narrow the choice, ``limit`` caps it. ``started`` is told how
    many are about to move, ``progress`` how many each backend call moved.
    """
    chosen = await chosen_ids(backend, queue, ids, job, limit)
    if chosen is not None:
        started(len(chosen))
        replayed = 0
        for start in range(0, len(chosen), REPLAY_CHUNK):
            batch = chosen[start : start + REPLAY_CHUNK]
            replayed += await backend.replay_dead_letters(queue, message_ids=batch)
            progress(len(batch))
        return replayed
    total = (await backend.stats(queue)).dead
    target = min(total, limit or total)
    started(target)
    replayed = 0
    while replayed < target:
        done = await backend.replay_dead_letters(queue, limit=min(REPLAY_CHUNK, target - replayed))
        if not done:
            break
        replayed += done
        progress(done)
    return replayed


async def purge(backend: Backend, queue: str) -> int:
    """Delete every dead letter of ``queue`` for good; returns how many were deleted."""
    return await backend.purge_dead_letters(queue)
