"""The checker itself: it must see a loss, an unexpected run and a duplicate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brokerjobs.backend import DeadLetter
from tests.faults.checker import assert_sound, check
from tests.faults.ledger import Ledger

pytestmark = pytest.mark.faults


def dead(key: str) -> DeadLetter:
    body = json.dumps({"payload": {"key": key}}).encode()
    return DeadLetter(queue="q", message_id=key, body=body, reason="poison message", attempt=3)


def test_the_checker_finds_lost_unexpected_and_duplicated_jobs(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    ledger.attempted(["ok", "twice", "parked", "lost", "unconfirmed"])
    ledger.confirmed(["ok", "twice", "parked", "lost"])
    for key in ("ok", "twice", "twice", "stray"):
        ledger.finish(ledger.start(key, 1))
    ledger.start("lost", 1)  # killed mid-run: started, never finished

    verdict = check(ledger, [dead("parked"), DeadLetter("q", "x", b"\xff", "garbage", 1)])
    assert verdict.lost == {"lost"}
    assert verdict.unexpected == {"stray"}
    assert verdict.duplicates == 1
    assert verdict.reruns == 1
    assert verdict.dead_reasons == {"parked": "poison message"}
    with pytest.raises(AssertionError, match="lost 1"):
        assert_sound(verdict, max_duplicates=1, expect_dead=1)

    ledger.finish(ledger.start("lost", 2))
    healed = check(ledger, [dead("parked")])
    assert not healed.lost and healed.reruns == 2
    with pytest.raises(AssertionError, match="unexpected"):
        assert_sound(healed, max_duplicates=1, expect_dead=1)
    ledger.close()
