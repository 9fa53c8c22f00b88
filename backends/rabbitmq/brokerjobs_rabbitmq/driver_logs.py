"""aiormq's reports of routine connection ends, replaced by one line of ours.

aiormq logs a broker-initiated close at ERROR, its reader's exit at WARNING with a full
traceback, and every failed connect attempt at ERROR. Each of these also reaches the
caller as a :class:`~brokerjobs.errors.BrokerUnavailableError`, which the worker reports
with its reconnect backoff. Left as they were, a routine broker restart or
``close_all_connections`` looked like a crash in a worker's log.
"""

from __future__ import annotations

import logging

log = logging.getLogger("brokerjobs.rabbitmq")

_CLOSED_BY_BROKER = "Unexpected connection close from remote"
_CONSEQUENCES = ("Cancelling cause reader exited abnormally", "error when creating transport")


class RoutineConnectionEnds(logging.Filter):
    """Drops aiormq's records of connection ends; logs a broker close as one warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        if message.startswith(_CLOSED_BY_BROKER) and len(record.args or ()) == 3:
            _connection, code, text = record.args  # type: ignore[misc]
            log.warning("RabbitMQ closed the connection: %s %s", code, text)
            return False
        return not message.startswith(_CONSEQUENCES)


def install() -> None:
    """Add the filter to aiormq's connection logger (once per process)."""
    logger = logging.getLogger("aiormq.connection")
    if not any(isinstance(known, RoutineConnectionEnds) for known in logger.filters):
        logger.addFilter(RoutineConnectionEnds())
