"""What the backend remembers about one received message until it is settled."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from brokerjobs.backend import Delivery
from brokerjobs_sqs.queues import QueueRef
from brokerjobs_sqs.settings import MAX_VISIBILITY
from brokerjobs_sqs.wire import Meta, WireBody

log = logging.getLogger("brokerjobs.sqs")

LEASE_CAP_MARGIN = 60.0
"""Stop extending this long before SQS's 12 h visibility cap, so a last call cannot be refused."""


class Owner(Protocol):
    """The subscription holding a receipt; told when it is settled."""

    def forget(self, receipt: Receipt) -> None: ...

    def take_group(self, receipt: Receipt) -> list[Receipt]: ...


@dataclass(eq=False, slots=True)
class Receipt:
    """``Delivery.receipt`` of this backend: an SQS receipt handle and our bookkeeping.

    Times are ``time.monotonic()`` values. ``lease_until`` is a lower bound of the time
    SQS keeps the message invisible (measured from before the call that set it).
    """

    ref: QueueRef
    handle: str
    body: WireBody
    meta: Meta
    attempt: int
    received_at: float
    lease_until: float
    group: str | None = None
    owner: Owner | None = field(default=None, repr=False)
    settled: bool = False
    lost: bool = False
    cap_warned: bool = False

    @property
    def lease_cap(self) -> float:
        """The last moment SQS lets the message stay invisible (12 h after receipt)."""
        return self.received_at + MAX_VISIBILITY - LEASE_CAP_MARGIN

    def delivery(self) -> Delivery:
        return Delivery(
            queue=self.ref.name,
            body=self.body.decode(),
            message_id=self.meta.message_id,
            attempt=self.attempt,
            receipt=self,
        )


def renewals(
    receipts: Iterable[Receipt], now: float, timeout: int, interval: float
) -> tuple[list[Receipt], list[Receipt]]:
    """Which leases the heartbeat renews now (ending within two beats), and which expired.

    A lease that cannot be renewed for a full ``timeout`` before the 12 h cap is left to
    run out, with one warning.
    """
    renew: list[Receipt] = []
    expired: list[Receipt] = []
    for receipt in list(receipts):
        if receipt.lease_until <= now:
            expired.append(receipt)
        elif receipt.lease_until - now <= 2 * interval:
            if receipt.lease_cap - now >= timeout:
                renew.append(receipt)
            elif not receipt.cap_warned:
                receipt.cap_warned = True
                log.warning(
                    "message %s on %s is near SQS's 12 h visibility cap; no longer extended",
                    receipt.meta.message_id,
                    receipt.ref.sqs_name,
                )
    return renew, expired
