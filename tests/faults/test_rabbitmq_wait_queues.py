"""RabbitMQ wait queues on quorum queues: delays survive a clean broker restart.

The default classic wait queues dead-letter at most once (see the strict xfail
``test_delayed_messages_survive_a_clean_broker_restart`` and docs/reliability.md).
"""

from __future__ import annotations

import pytest

from tests.faults.targets import RabbitTarget
from tests.faults.test_rabbitmq_open_bugs import delayed_messages_survive_restart

pytestmark = [pytest.mark.faults, pytest.mark.rabbitmq, pytest.mark.slow]


async def test_quorum_wait_queues_keep_delayed_messages_across_a_clean_restart(
    rabbit: RabbitTarget,
) -> None:
    """T6b fixed by configuration: with ``wait_queue_type="quorum"`` the wait queues
    dead-letter at least once, so no message hopping between levels is dropped."""
    await delayed_messages_survive_restart(
        rabbit, count=600, levels=16, timeout=30, wait_queue_type="quorum"
    )
