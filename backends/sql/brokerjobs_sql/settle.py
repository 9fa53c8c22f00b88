"""Settling leased rows. Every statement matches ``id`` *and* ``lease_token``.

A row whose lease expired and was claimed again carries a new token, so a late settle by
the first consumer matches nothing: the caller turns "0 rows" into ``DeliveryLostError``.
A lease that expired but was not reclaimed yet still matches: nobody else has the row.
"""

from __future__ import annotations

from collections.abc import Sequence

from brokerjobs_sql.dialects import DBConnection
from brokerjobs_sql.store import JobStore

_ACK = "DELETE FROM {jobs} WHERE id = %s AND lease_token = %s"
_RETRY = (
    "UPDATE {jobs} SET lease_token = NULL, available_at = {now} + %s, last_error = %s,"
    " updated_at = {now} WHERE id = %s AND lease_token = %s"
)
_RELEASE = (
    "UPDATE {jobs} SET lease_token = NULL, available_at = {now}, attempts = attempts - 1,"
    " updated_at = {now} WHERE id = %s AND lease_token = %s"
)
_DEFER = (
    "UPDATE {jobs} SET lease_token = NULL, available_at = {now} + %s, attempts = attempts - 1,"
    " updated_at = {now} WHERE id = %s AND lease_token = %s"
)
_EXTEND = (
    "UPDATE {jobs} SET available_at = {greatest}(available_at, {now} + %s), updated_at = {now}"
    " WHERE id = %s AND lease_token = %s"
)
_HEARTBEAT = (
    "UPDATE {jobs} SET available_at = {greatest}(available_at, {now} + %s)"
    " WHERE lease_token IN ({tokens})"
)
_TO_DEAD = (
    "INSERT INTO {dead} (queue, message_id, body, priority, attempts, reason, created_at,"
    " dead_lettered_at) SELECT queue, message_id, body, priority, attempts, %s, created_at, {now}"
    " FROM {jobs} WHERE id = %s AND lease_token = %s"
)


def ack(store: JobStore, row_id: int, token: str) -> bool:
    """Delete the row; False when the lease is no longer ours."""
    return store.execute(_ACK, (row_id, token)) == 1


def retry(store: JobStore, row_id: int, token: str, *, delay: float, reason: str) -> bool:
    """Make the row claimable again after ``delay`` s (the next claim counts an attempt)."""
    return store.execute(_RETRY, (max(0.0, delay), reason, row_id, token)) == 1


def release(store: JobStore, row_id: int, token: str) -> bool:
    """Make the row claimable now and take back the attempt its claim counted."""
    return store.execute(_RELEASE, (row_id, token)) == 1


def defer(store: JobStore, row_id: int, token: str, *, delay: float) -> bool:
    """Make the row claimable after ``delay`` s and take back the attempt its claim counted."""
    return store.execute(_DEFER, (max(0.0, delay), row_id, token)) == 1


def release_many(store: JobStore, leases: Sequence[tuple[int, str]]) -> int:
    """Release several rows in one transaction; returns how many were still ours."""
    if not leases:
        return 0

    def run(connection: DBConnection) -> int:
        released = 0
        with store.transaction(connection) as cursor:
            for row_id, token in leases:
                cursor.execute(store.sql(_RELEASE), (row_id, token))
                released += int(cursor.rowcount)
        return released

    return store.run(run)


def extend(store: JobStore, row_id: int, token: str, *, seconds: float) -> bool:
    """Push the lease end to at least ``seconds`` from now (never shortens it)."""
    return store.execute(_EXTEND, (max(0.0, seconds), row_id, token)) == 1


def heartbeat(store: JobStore, tokens: Sequence[str], *, seconds: float) -> int:
    """Extend every row leased under ``tokens`` by at least ``seconds``; returns the count."""
    if not tokens:
        return 0
    statement = _HEARTBEAT.replace("{tokens}", store.dialect.placeholders(len(tokens)))
    return store.execute(statement, (seconds, *tokens))


def dead_letter(store: JobStore, row_id: int, token: str, *, reason: str) -> bool:
    """Move the row to the dead letters with ``reason``, atomically; False if not ours."""

    def run(connection: DBConnection) -> bool:
        with store.transaction(connection) as cursor:
            cursor.execute(store.sql(_TO_DEAD), (reason, row_id, token))
            if cursor.rowcount != 1:
                raise _NotOurs
            cursor.execute(store.sql(_ACK), (row_id, token))
            if cursor.rowcount != 1:
                # Reclaimed between the two statements: undo the copy.
                raise _NotOurs
        return True

    try:
        return store.run(run)
    except _NotOurs:
        return False


class _NotOurs(Exception):
    """The lease was lost mid-transaction; raised to roll the transaction back."""
