"""RabbitMQ backend for brokerjobs: quorum queues, DLX wait levels for delays, a DLQ per queue.

Publishing uses pika (sync, one connection per thread) and aio-pika's AMQP layer aiormq
(async); consuming uses aiormq with manual acks. See ``docs/backends/rabbitmq.md``.
"""

from . import driver_logs
from .backend import RabbitMQBackend
from .settings import RabbitMQSettings
from .translate import AccessRefusedError, TopologyMismatchError

driver_logs.install()

__all__ = ["AccessRefusedError", "RabbitMQBackend", "RabbitMQSettings", "TopologyMismatchError"]
