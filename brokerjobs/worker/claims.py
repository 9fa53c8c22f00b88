"""The worker's hold on one running delivery (see :class:`~.processing.Claim`)."""

from __future__ import annotations

from brokerjobs.backend import Delivery
from brokerjobs.worker.intake import Feed, Intake


class RunningClaim:
    """Ours while neither its lease nor its subscription was lost since it started.

    ``lost`` and ``holding`` are the worker's own sets: deliveries whose lease the
    heartbeat lost, and running deliveries the heartbeat still extends.
    """

    __slots__ = ("_delivery", "_feed", "_generation", "_holding", "_intake", "_lost")

    def __init__(
        self,
        delivery: Delivery,
        intake: Intake,
        feed: Feed,
        generation: int,
        lost: set[Delivery],
        holding: set[Delivery],
    ) -> None:
        self._delivery = delivery
        self._intake = intake
        self._feed = feed
        self._generation = generation
        self._lost = lost
        self._holding = holding

    def still_ours(self) -> bool:
        return self._delivery not in self._lost and self._intake.is_current(
            self._feed, self._generation
        )

    def letting_go(self) -> None:
        self._holding.discard(self._delivery)
