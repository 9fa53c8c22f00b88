"""Operations on queues as a whole: stats, purge, cancel, and the dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from brokerjobs.backend import DeadLetter, QueueStats
from brokerjobs_sql.dialects import DBConnection
from brokerjobs_sql.store import JobStore

_STATS = (
    "SELECT COALESCE(SUM(CASE WHEN available_at <= {now} THEN 1 ELSE 0 END), 0),"
    " COALESCE(SUM(CASE WHEN available_at > {now} AND lease_token IS NOT NULL THEN 1 ELSE 0 END),"
    " 0),"
    " COALESCE(SUM(CASE WHEN available_at > {now} AND lease_token IS NULL THEN 1 ELSE 0 END), 0),"
    " {now} - MIN(CASE WHEN available_at <= {now} THEN available_at END)"
    " FROM {jobs} WHERE queue = %s"
)
_DEAD_COUNT = "SELECT COUNT(*) FROM {dead} WHERE queue = %s"
_DEAD_LIST = (
    "SELECT message_id, body, reason, attempts, dead_lettered_at FROM {dead}"
    " WHERE queue = %s ORDER BY id LIMIT %s"
)
_REPLAY = (
    "INSERT INTO {jobs} (queue, message_id, body, priority, attempts, available_at, last_error,"
    " created_at, updated_at) SELECT queue, message_id, body, priority, 0, {now}, reason,"
    " created_at, {now} FROM {dead} WHERE id IN ({ids})"
)
_PURGE = "DELETE FROM {dead} WHERE queue = %s"
# Waiting rows: never leased, or their lease expired (claimable again). Held rows stay.
_WAITING = "queue = %s AND (lease_token IS NULL OR available_at <= {now})"
_PURGE_WAITING = "DELETE FROM {jobs} WHERE " + _WAITING
_CANCEL = "DELETE FROM {jobs} WHERE message_id = %s AND " + _WAITING
_CHUNK = 500


def stats(store: JobStore, queue: str) -> QueueStats:
    """Counts for ``queue``; an expired lease counts as ready (it is claimable now)."""
    ((ready, in_flight, delayed, oldest),) = store.query(_STATS, (queue,))
    ((dead,),) = store.query(_DEAD_COUNT, (queue,))
    return QueueStats(
        queue=queue,
        ready=int(ready),
        in_flight=int(in_flight),
        delayed=int(delayed),
        dead=int(dead),
        oldest_ready_age=None if oldest is None else max(0.0, float(oldest)),
    )


def dead_letters(store: JobStore, queue: str, limit: int) -> list[DeadLetter]:
    """The oldest ``limit`` dead letters of ``queue``, left in place."""
    return [
        DeadLetter(
            queue=queue,
            message_id=str(message_id),
            body=bytes(body),
            reason=str(reason),
            attempt=int(attempts),
            dead_lettered_at=datetime.fromtimestamp(float(at), UTC),
        )
        for message_id, body, reason, attempts, at in store.query(_DEAD_LIST, (queue, limit))
    ]


def replay(
    store: JobStore, queue: str, message_ids: Sequence[str] | None, limit: int | None
) -> int:
    """Move dead letters back to ``queue`` as fresh rows (attempts 0, same id and body)."""
    if message_ids is not None and not message_ids:
        return 0

    def run(connection: DBConnection) -> int:
        with store.transaction(connection) as cursor:
            ids = _select_ids(store, cursor, queue, message_ids, limit)
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = store.dialect.placeholders(len(chunk))
                cursor.execute(store.sql(_REPLAY.replace("{ids}", marks)), chunk)
                cursor.execute(store.sql(f"DELETE FROM {{dead}} WHERE id IN ({marks})"), chunk)
        return len(ids)

    return store.run(run)


def _select_ids(
    store: JobStore,
    cursor: Any,
    queue: str,
    message_ids: Sequence[str] | None,
    limit: int | None,
) -> list[int]:
    statement = "SELECT id FROM {dead} WHERE queue = %s"
    params: list[Any] = [queue]
    if message_ids is not None:
        statement += f" AND message_id IN ({store.dialect.placeholders(len(message_ids))})"
        params += list(message_ids)
    statement += " ORDER BY id"
    if limit is not None:
        statement += " LIMIT %s"
        params.append(limit)
    cursor.execute(store.sql(statement + "{lock_rows}"), params)
    return [int(row[0]) for row in cursor.fetchall()]


def purge(store: JobStore, queue: str) -> int:
    """Delete every dead letter of ``queue``."""
    return store.execute(_PURGE, (queue,))


def purge_waiting(store: JobStore, queue: str) -> int:
    """Delete the ready and delayed rows of ``queue``; leased rows (running) stay."""
    return store.execute(_PURGE_WAITING, (queue,))


def cancel(store: JobStore, queue: str, message_id: str) -> bool:
    """Delete the waiting row(s) of ``queue`` with ``message_id``; False if none waits."""
    return store.execute(_CANCEL, (message_id, queue)) > 0
