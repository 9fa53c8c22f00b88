"""The worker runtime: what ``brokerjobs consume`` runs (and ``brokerjobs.testing.drain``)."""

from brokerjobs.worker.hooks import CallNext, Hooks, JobEvent, Middleware, Outcome
from brokerjobs.worker.intake import Reconnect
from brokerjobs.worker.outcome import JobTimeLimitExceeded
from brokerjobs.worker.worker import Worker

__all__ = [
    "CallNext",
    "Hooks",
    "JobEvent",
    "JobTimeLimitExceeded",
    "Middleware",
    "Outcome",
    "Reconnect",
    "Worker",
]
