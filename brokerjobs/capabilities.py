"""Optional backend capabilities: what some brokers can do and others cannot.

Each capability is a typed :class:`~typing.Protocol`. A backend offers one by defining
its method; the core checks with ``isinstance(backend, Purgeable)`` and says clearly
where a backend cannot (``brokerjobs purge`` and ``brokerjobs cancel`` do). Protocols,
not abstract methods, so a backend that cannot do something has nothing to stub.

=============  =========================  ==========================================
capability     offered by                 not by
=============  =========================  ==========================================
Purgeable      memory, SQL, RabbitMQ, SQS,
               Redis
Cancellable    memory, SQL, Redis         RabbitMQ, SQS: a broker queue hands messages
                                          out in order and cannot delete one by id
=============  =========================  ==========================================
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Purgeable(Protocol):
    """A backend that can empty a work queue."""

    async def purge(self, queue: str) -> int | None:
        """Delete the messages of ``queue`` that wait to run: ready and delayed ones.

        Messages a consumer holds (running jobs) are left alone where the broker allows
        it (documented per backend), and dead letters always are (``purge_dead_letters``
        deletes those). Returns how many were deleted, or None where the broker does not
        say.
        """
        ...


@runtime_checkable
class Cancellable(Protocol):
    """A backend that can delete one waiting message by id."""

    async def cancel(self, queue: str, message_id: str) -> bool:
        """Delete the waiting (ready or delayed) message ``message_id`` of ``queue``.

        True when it was deleted; False when no waiting message has that id: it never
        existed, already ran, is running now, or was dead-lettered. A running job is
        never interrupted.
        """
        ...
