"""A state machine drives the in-memory store at random; no message is ever lost or early."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from brokerjobs.backend import Delivery, OutgoingMessage
from brokerjobs.clock import FakeClock
from brokerjobs.errors import DeliveryLostError
from brokerjobs.memory_store import MemoryStore

QUEUE = "q"
LEASE = 30.0


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.store = MemoryStore(self.clock)
        self.owners = [object(), object()]
        self.published: dict[str, float] = {}
        """message id -> earliest time it may be delivered"""
        self.held: list[Delivery] = []
        self.acked: set[str] = set()
        self.dead: set[str] = set()
        self.counter = 0

    @rule(delay=st.sampled_from([0.0, 0.0, 1.0, 5.0, 100.0]))
    def publish(self, delay: float) -> None:
        self.counter += 1
        message_id = f"m{self.counter}"
        self.store.publish(QUEUE, [OutgoingMessage(b"{}", message_id, delay=delay)])
        self.published[message_id] = self.clock.now() + delay

    @rule(owner=st.integers(0, 1))
    def take(self, owner: int) -> None:
        delivery, _ = self.store.take([QUEUE], self.owners[owner], LEASE)
        if delivery is not None:
            assert self.clock.now() >= self.published[delivery.message_id], "delivered early"
            assert delivery.message_id not in self.acked | self.dead
            assert delivery.attempt >= 1
            self.held = [d for d in self.held if d.message_id != delivery.message_id]
            self.held.append(delivery)

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data(), action=st.sampled_from(["ack", "retry", "dead", "release"]))
    def settle(self, data: st.DataObject, action: str) -> None:
        delivery = data.draw(st.sampled_from(self.held))
        self.held.remove(delivery)
        try:
            lease = self.store.settle(delivery)
        except DeliveryLostError:
            return  # lease expired or owner crashed: the message is back in the queue
        if action == "ack":
            self.acked.add(delivery.message_id)
        elif action == "dead":
            self.store.bury(lease, "reason")
            self.dead.add(delivery.message_id)
        elif action == "retry":
            self.store.requeue(lease, 3.0)
            self.published[delivery.message_id] = self.clock.now() + 3.0
        else:
            self.store.requeue(lease, 0.0, counted=False)
            self.published[delivery.message_id] = self.clock.now()

    @rule(owner=st.integers(0, 1))
    def crash(self, owner: int) -> None:
        self.store.drop_owner(self.owners[owner])

    @rule(seconds=st.sampled_from([0.5, 1.0, 3.0, 31.0, 200.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: bool(self.dead))
    @rule()
    def replay(self) -> None:
        moved = self.store.replay(QUEUE, None, None)
        assert moved == len(self.dead)
        for message_id in self.dead:
            self.published[message_id] = self.clock.now()
        self.dead.clear()

    @invariant()
    def nothing_lost_or_duplicated(self) -> None:
        stats = self.store.stats(QUEUE)
        in_queue = stats.ready + stats.delayed + stats.in_flight
        assert stats.dead == len(self.dead)
        assert in_queue + stats.dead + len(self.acked) == len(self.published)


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
