"""RabbitMQ backend for brokerjobs: quorum queues, DLX wait levels for delays, a DLQ per queue.

Publishing uses pika (sync, one connection per thread) and aio-pika's AMQP layer aiormq
(async); consuming uses aiormq with manual acks. See ``docs/backends/rabbitmq.md``.
"""

from .backend import RabbitMQBackend
from .settings import RabbitMQSettings
from .translate import AccessRefusedError, TopologyMismatchError

__all__ = ["AccessRefusedError", "RabbitMQBackend", "RabbitMQSettings", "TopologyMismatchError"]
