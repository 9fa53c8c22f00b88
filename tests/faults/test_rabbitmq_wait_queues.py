"""RabbitMQ wait queues (quorum by default): delays survive a clean broker restart.

Classic wait queues dead-letter at most once (see the xfail
``test_classic_wait_queues_lose_delayed_messages_in_a_clean_broker_restart`` and
docs/reliability.md, bug 5).
"""

from __future__ import annotations

import pytest

from tests.faults.targets import RabbitTarget
from tests.faults.test_rabbitmq_open_bugs import delayed_messages_survive_restart

pytestmark = [pytest.mark.faults, pytest.mark.rabbitmq, pytest.mark.slow]


async def test_default_wait_queues_keep_delayed_messages_across_a_clean_restart(
    rabbit: RabbitTarget,
) -> None:
    """T6b with the default settings: quorum wait queues dead-letter at least once, so
    no message hopping between levels is dropped (the same load as the classic xfail)."""
    await delayed_messages_survive_restart(rabbit, count=1200, levels=64, timeout=45)
