"""brokerjobs: typed background jobs over real message brokers.

Describe work as a :class:`Job`, hand it to a broker with :func:`dispatch`, and run it in
a worker (``brokerjobs consume``) that retries with backoff and dead-letters what keeps
failing. The same behaviour on RabbitMQ, SQS, SQL databases and in memory.
"""

from brokerjobs.backend import Backend, DeadLetter, Delivery, OutgoingMessage, QueueStats
from brokerjobs.config import Settings, configure
from brokerjobs.discovery import get_backend, installed_backends
from brokerjobs.dispatch import dispatch, dispatch_async, dispatch_many, dispatch_many_async
from brokerjobs.errors import BrokerJobsError, Fail, Retry
from brokerjobs.job import Job, JobContext, registry
from brokerjobs.options import JobOptions
from brokerjobs.worker import Hooks, JobEvent, Worker

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BrokerJobsError",
    "DeadLetter",
    "Delivery",
    "Fail",
    "Hooks",
    "Job",
    "JobContext",
    "JobEvent",
    "JobOptions",
    "OutgoingMessage",
    "QueueStats",
    "Retry",
    "Settings",
    "Worker",
    "configure",
    "dispatch",
    "dispatch_async",
    "dispatch_many",
    "dispatch_many_async",
    "get_backend",
    "installed_backends",
    "registry",
]
