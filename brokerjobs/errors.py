"""Every error brokerjobs raises, in one tree.

::

    BrokerJobsError
    ├── ConfigurationError          settings are wrong or missing (fix the config, not the code)
    │   ├── UnknownBackendError     no installed backend has that name
    │   └── StoreNotConfiguredError a feature needs a Store and none is configured
    │   └── ScheduleError           a schedule is declared wrongly, or ticks cannot be claimed
    ├── DispatchError               a job could not be handed to the broker
    │   ├── PayloadInvalidError     the payload does not validate against the job's model
    │   └── PayloadTooLargeError    the encoded envelope is larger than the limit
    ├── BackendError                the broker said no, or could not be reached
    │   ├── BrokerUnavailableError  connection refused / dropped / timed out (transient)
    │   │   └── BrokerTimeoutError  no answer within the configured timeout
    │   ├── PublishRejectedError    the broker refused a message (nack, unroutable, failed entry)
    │   ├── QueueNotFoundError      the queue does not exist and may not be created
    │   └── DeliveryLostError       a delivery can no longer be settled (channel or lease gone)
    ├── StoreError                  the coordination store failed or refused an operation
    │   └── StoreUnavailableError   the store could not be reached or timed out (transient)
    ├── EnvelopeError               a message body is not a valid brokerjobs envelope
    ├── UnknownJobError             no job class is registered under the envelope's job name
    └── JobError                    raised *by* a job to steer its own outcome
        ├── Retry                   retry, optionally after a specific delay
        └── Fail                    dead-letter now, no more attempts

Everything dispatch raises is a :class:`DispatchError`: the backend errors a publish can
meet (unavailable, rejected, queue not found, access refused) are DispatchErrors as well,
and dispatch wraps any other brokerjobs error in a plain DispatchError (the original is
its ``__cause__``).

Backends translate their driver's exceptions (pika, aiormq, botocore) into these classes at
their edge, so nothing above the backend ever handles a driver exception.
"""

from __future__ import annotations

import difflib


class BrokerJobsError(Exception):
    """Base class of every error raised by brokerjobs."""


class ConfigurationError(BrokerJobsError):
    """The configuration is invalid or incomplete."""


SHIPPED_BACKENDS = ("memory", "sqlite", "postgres", "mysql", "rabbitmq", "sqs")
"""The backends brokerjobs ships; each but memory is an extra: ``brokerjobs[NAME]``."""


class UnknownBackendError(ConfigurationError):
    """No installed backend is registered under the requested name.

    A shipped backend that is not installed gets its install command; a name close to
    a known one (a typo) gets "did you mean"; any other name is a third-party backend.
    """

    def __init__(self, name: str, installed: list[str]) -> None:
        self.name = name
        self.installed = installed
        listed = ", ".join(sorted(installed)) or "none"
        known = sorted(set(installed) | set(SHIPPED_BACKENDS))
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        if name in SHIPPED_BACKENDS:
            hint = f'To add it, run: pip install "brokerjobs[{name}]"'
        elif close:
            hint = f"did you mean {close[0]}?"
        else:
            hint = (
                "brokerjobs ships no backend of that name; a third-party backend must be "
                "installed and register it in the 'brokerjobs.backends' entry-point group"
            )
        super().__init__(f"unknown backend {name!r}; {hint} (installed backends: {listed})")


class StoreNotConfiguredError(ConfigurationError):
    """A job option needs a :class:`brokerjobs.store.Store` and none is configured."""

    def __init__(self, needed_by: str, backend: str | None = None) -> None:
        self.needed_by = needed_by
        on = f" the {backend!r} backend is not a store, and" if backend else ""
        super().__init__(
            f"{needed_by} needs a coordination store, but{on} BROKERJOBS_STORE is not set; "
            "set BROKERJOBS_STORE to a store URL (postgresql://..., mysql://..., "
            "sqlite:///path/to/file.db, dynamodb://TABLE?region=...) or to an installed "
            "store name (brokerjobs.stores entry points), or call brokerjobs.configure(store=...)"
        )


class StoreError(BrokerJobsError):
    """The coordination store failed or refused an operation."""


class StoreUnavailableError(StoreError):
    """The store could not be reached, or the connection dropped or timed out (transient)."""


class DispatchError(BrokerJobsError):
    """A job could not be dispatched."""


class PayloadInvalidError(DispatchError):
    """The job payload does not validate against its model."""


class PayloadTooLargeError(DispatchError):
    """The encoded message is larger than the configured or broker limit."""

    def __init__(self, size: int, limit: int, what: str = "message") -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"{what} is {size} bytes, over the limit of {limit} bytes; "
            "pass ids and look the data up in the job instead of sending it"
        )


class BackendError(BrokerJobsError):
    """The broker failed or refused an operation."""


class BrokerUnavailableError(BackendError, DispatchError):
    """The broker could not be reached, or the connection dropped or timed out.

    Transient: callers may retry after a backoff.
    """


class BrokerTimeoutError(BrokerUnavailableError):
    """The broker did not answer within the configured timeout (connect, confirm, blocked).

    Transient like its parent, but dispatch does not retry it: the caller has already
    waited the whole timeout once, and retrying would multiply that wait.
    """


class PublishRejectedError(BackendError, DispatchError):
    """The broker refused the message (negative confirm, unroutable, failed batch entry)."""


class QueueNotFoundError(BackendError, ConfigurationError, DispatchError):
    """The queue does not exist and the backend is not allowed to create it."""

    def __init__(self, queue: str, hint: str = "") -> None:
        self.queue = queue
        super().__init__(f"queue {queue!r} does not exist" + (f"; {hint}" if hint else ""))


class DeliveryLostError(BackendError):
    """A delivery can no longer be acked, retried or released.

    Its channel closed or its lease expired: the broker has already given (or will give)
    the message to another consumer, so this worker no longer owns it.
    """


class EnvelopeError(BrokerJobsError):
    """A message body is not a valid brokerjobs envelope."""


class UnknownJobError(BrokerJobsError):
    """No job class is registered under the given name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"no job is registered under the name {name!r}; "
            "is the module defining it imported by the worker (--app)?"
        )


class ScheduleError(ConfigurationError):
    """A schedule is declared wrongly, or no way to dispatch each tick once is available."""


class JobError(BrokerJobsError):
    """Raised by a job's ``run`` to choose its own outcome."""


class Retry(JobError):
    """Ask for another attempt, after ``delay`` seconds if given (else the job's backoff).

    Counts as an attempt: once the job's ``max_attempts`` is used up the message is
    dead-lettered instead.
    """

    def __init__(self, reason: str = "retry requested", *, delay: float | None = None) -> None:
        if delay is not None and delay < 0:
            raise ValueError(f"Retry delay must be >= 0 seconds, got {delay}")
        self.delay = delay
        self.reason = reason
        super().__init__(reason)


class Fail(JobError):
    """Give up on this message now: it goes to the dead-letter queue with ``reason``."""

    def __init__(self, reason: str = "job failed") -> None:
        self.reason = reason
        super().__init__(reason)
