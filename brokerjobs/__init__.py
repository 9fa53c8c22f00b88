"""brokerjobs: typed background jobs over real message brokers.

Describe work as a :class:`Job`, hand it to a broker with :func:`dispatch`, and run it in
a worker (``brokerjobs consume``) that retries with backoff and dead-letters what keeps
failing. The same behaviour on RabbitMQ, SQS, SQL databases and in memory.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Dispatching needs the job model anyway. The dispatch module must be imported here, not
# on demand: importing a submodule later would bind ``brokerjobs.dispatch`` to the module
# instead of the function.
from brokerjobs.backend import Backend, DeadLetter, Delivery, OutgoingMessage, QueueStats
from brokerjobs.config import configure
from brokerjobs.discovery import get_backend, installed_backends
from brokerjobs.dispatch import dispatch, dispatch_async, dispatch_many, dispatch_many_async
from brokerjobs.errors import BrokerJobsError, Fail, Retry
from brokerjobs.job import Job, JobContext, registry
from brokerjobs.options import JobOptions

if TYPE_CHECKING:
    from brokerjobs.core_settings import Settings
    from brokerjobs.guards.result import DispatchResult
    from brokerjobs.store import Store
    from brokerjobs.stores import get_store
    from brokerjobs.worker import Hooks, JobEvent, Worker

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BrokerJobsError",
    "DeadLetter",
    "Delivery",
    "DispatchResult",
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
    "Store",
    "Worker",
    "configure",
    "dispatch",
    "dispatch_async",
    "dispatch_many",
    "dispatch_many_async",
    "get_backend",
    "get_store",
    "installed_backends",
    "registry",
]

# Re-exports whose modules are costly to import (pydantic_settings, the worker runtime),
# loaded on first access (PEP 562) so that a service that only dispatches never pays them.
_LAZY = {
    "Settings": "brokerjobs.core_settings",
    "Hooks": "brokerjobs.worker",
    "JobEvent": "brokerjobs.worker",
    "Worker": "brokerjobs.worker",
    "Store": "brokerjobs.store",
    "DispatchResult": "brokerjobs.guards.result",
    "get_store": "brokerjobs.stores",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
