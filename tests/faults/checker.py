"""The total-queue checker: what was confirmed against what ran and what was parked.

``lost = confirmed − (executed_ok ∪ dead)`` must be empty after a drain; ``unexpected``
(ran but never even attempted) must be empty; ``duplicates`` counts successful runs
beyond the first per job (the effect would have happened twice without idempotency),
``reruns`` counts every start beyond the first (killed or interrupted runs included).
A job made idempotent (see docs/reliability.md) absorbs exactly the ``duplicates``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from brokerjobs.backend import Backend, DeadLetter
from tests.faults.ledger import Ledger


@dataclass(frozen=True)
class Verdict:
    """The checker's findings for one run."""

    attempted: int
    confirmed: int
    executed_ok: int
    dead: int
    lost: frozenset[str]
    unexpected: frozenset[str]
    duplicates: int
    reruns: int
    dead_reasons: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"attempted={self.attempted} confirmed={self.confirmed} ok={self.executed_ok} "
            f"dead={self.dead} lost={len(self.lost)} unexpected={len(self.unexpected)} "
            f"duplicates={self.duplicates} reruns={self.reruns}"
        )


def ledger_key(body: bytes) -> str | None:
    """The ``key`` of a dead letter's job payload, if it is one of ours."""
    try:
        document = json.loads(body)
        key = document["payload"]["key"]
    except (ValueError, KeyError, TypeError):
        return None
    return key if isinstance(key, str) else None


def check(ledger: Ledger, dead_letters: Iterable[DeadLetter] = ()) -> Verdict:
    """Compare the ledger with the dead letters (read from the broker by the caller)."""
    attempted = ledger.keys("attempted")
    confirmed = ledger.keys("confirmed")
    runs = ledger.executions()
    ok = Counter(run.key for run in runs if run.outcome == "ok")
    starts = Counter(run.key for run in runs)
    reasons: dict[str, str] = {}
    for letter in dead_letters:
        key = ledger_key(letter.body)
        if key is not None:
            reasons[key] = letter.reason
    settled = set(ok) | set(reasons)
    return Verdict(
        attempted=len(attempted),
        confirmed=len(confirmed),
        executed_ok=len(ok),
        dead=len(reasons),
        lost=frozenset(confirmed - settled),
        unexpected=frozenset(set(starts) - attempted),
        duplicates=sum(n - 1 for n in ok.values()),
        reruns=sum(n - 1 for n in starts.values()),
        dead_reasons=reasons,
    )


async def all_dead_letters(backend: Backend, queue: str, limit: int = 10_000) -> list[DeadLetter]:
    return await backend.dead_letters(queue, limit=limit)


async def drain(
    ledger: Ledger,
    backend: Backend,
    queue: str,
    *,
    timeout: float,
    expect_dead: int = 0,
    interval: float = 0.25,
) -> Verdict:
    """Wait until every confirmed job ran or is dead (the DLQ holds ``expect_dead`` or more).

    Returns the last verdict either way: the caller asserts on it, so a timeout shows
    what is missing instead of a bare "condition not met".
    """
    deadline = time.monotonic() + timeout
    dead: list[DeadLetter] = []
    while True:
        verdict = check(ledger, dead)
        if not verdict.lost and verdict.dead >= expect_dead:
            return verdict
        missing = len(verdict.lost)
        if missing <= 200 or expect_dead:
            dead = await all_dead_letters(backend, queue)
            verdict = check(ledger, dead)
            if not verdict.lost and verdict.dead >= expect_dead:
                return verdict
        if time.monotonic() > deadline:
            return verdict
        await asyncio.sleep(interval)


def assert_sound(verdict: Verdict, *, max_duplicates: int, expect_dead: int = 0) -> None:
    """The pass criterion shared by every scenario."""
    assert not verdict.lost, f"lost {len(verdict.lost)}: {sorted(verdict.lost)[:10]}; {verdict}"
    assert not verdict.unexpected, f"unexpected runs: {sorted(verdict.unexpected)[:10]}"
    assert verdict.dead == expect_dead, f"dead letters: {verdict.dead_reasons}"
    assert verdict.duplicates <= max_duplicates, (
        f"{verdict.duplicates} duplicate runs, more than the {max_duplicates} in flight "
        f"when the fault hit; {verdict.summary()}"
    )
