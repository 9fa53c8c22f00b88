"""A dead-letter reason never stores the value of a field the job marks sensitive."""

from __future__ import annotations

import brokerjobs
from brokerjobs import Job, JobContext
from brokerjobs.telemetry.redact import Sensitive
from brokerjobs.testing import FakeBroker


class ChargeWithToken(Job, queue="charges", max_attempts=1):
    card_token: Sensitive
    order_id: int

    def run(self, ctx: JobContext) -> None:
        raise ValueError(f"gateway refused token {self.card_token} for order {self.order_id}")


def test_sensitive_value_is_masked_in_the_stored_reason(fake_broker: FakeBroker) -> None:
    brokerjobs.dispatch(ChargeWithToken(card_token="tok_live_4242secret", order_id=7))
    result = fake_broker.drain()
    assert result.dead_lettered == 1
    [dead] = fake_broker.dead_letters("charges")
    assert "tok_live_4242secret" not in dead.reason
    assert "gateway refused token *** for order 7" in dead.reason
