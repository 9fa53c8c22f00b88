"""Deciding what happens to a message after its job ran: ack, retry or dead-letter."""

from __future__ import annotations

import enum
import traceback
from dataclasses import dataclass

from brokerjobs.errors import BrokerJobsError, Fail, Retry
from brokerjobs.options import JobOptions

TRACEBACK_LIMIT = 2000
"""Characters of traceback kept in a dead-letter reason (the innermost frames)."""
MESSAGE_LIMIT = 500
"""Characters of an exception message kept in a reason or a log line."""


class JobTimeLimitExceeded(BrokerJobsError, TimeoutError):
    """An attempt ran longer than its job's ``time_limit``; it counts as a failed attempt."""


class Settle(enum.Enum):
    """How a message is settled with the broker."""

    ACK = "ack"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"
    DEFER = "defer"
    """Put back for ``delay`` seconds without counting an attempt (limits, a busy key)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome chosen for one attempt."""

    settle: Settle
    delay: float = 0.0
    """Seconds before the retry or deferred delivery (``RETRY``, ``DEFER``)."""
    reason: str = ""
    """Why it was retried or dead-lettered (empty on success)."""


ACK = Decision(Settle.ACK)


def error_summary(exc: BaseException) -> str:
    """``Type: message`` on one line, the message cut to :data:`MESSAGE_LIMIT` characters."""
    message = " ".join(str(exc).split())
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    name = type(exc).__qualname__
    return f"{name}: {message}" if message else name


def traceback_excerpt(exc: BaseException, limit: int = TRACEBACK_LIMIT) -> str:
    """The end of ``exc``'s formatted traceback, at most ``limit`` characters."""
    text = "".join(traceback.format_exception(exc)).rstrip()
    if len(text) <= limit:
        return text
    return "…" + text[-(limit - 1) :]


def failure_reason(headline: str, exc: BaseException) -> str:
    """A dead-letter/retry reason: a headline, the error summary, then a traceback excerpt."""
    return f"{headline}: {error_summary(exc)}\n{traceback_excerpt(exc)}"


def decide(exc: BaseException, options: JobOptions, attempt: int, max_attempts: int) -> Decision:
    """The outcome of an attempt that raised ``exc``.

    ``Fail`` and exception types outside ``options.retry_on`` dead-letter at once;
    ``Retry`` and retryable exceptions retry (after ``Retry.delay`` or the job's backoff)
    until ``max_attempts`` attempts have run, then dead-letter.
    """
    if isinstance(exc, Fail):
        return Decision(Settle.DEAD_LETTER, reason=f"failed by the job: {exc.reason}")
    retryable = isinstance(exc, Retry) or options.retries(exc)
    if not retryable:
        return Decision(Settle.DEAD_LETTER, reason=failure_reason("not retryable", exc))
    if attempt >= max_attempts:
        headline = f"attempts exhausted ({attempt}/{max_attempts})"
        return Decision(Settle.DEAD_LETTER, reason=failure_reason(headline, exc))
    if isinstance(exc, Retry) and exc.delay is not None:
        delay = exc.delay
    else:
        delay = options.backoff(attempt)
    headline = f"attempt {attempt}/{max_attempts} failed"
    return Decision(Settle.RETRY, delay=delay, reason=failure_reason(headline, exc))
