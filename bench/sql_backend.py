"""Jobs/s through the SQL backends vs a raw claim/delete loop on the same table (one run).

    .venv/bin/python bench/sql_backend.py [--jobs 5000] [--databases sqlite,postgres,mysql]
                                          [--concurrency 64]

Backend: ``publish_batch`` of all jobs, then one subscription (prefetch 50) receiving and
acking each. Raw: one multi-row INSERT per 500 jobs, then the loop people write by hand:
per job, a transaction selecting the oldest ready row (``SKIP LOCKED`` where available)
and deleting it. Both use the same database, table and indexes; ratios are backend/raw.
``worker async`` / ``worker sync``: a real ``Worker`` (``--concurrency``, prefetch 50)
draining the same number of no-op jobs, ``async def run`` and plain ``def run`` (threads),
compared with the raw drain of the same run (see ``worker_drain.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from brokerjobs_sql import MySQLBackend, PostgresBackend, SQLBackend, SQLiteBackend
from worker_drain import JOB_KINDS, publish_and_drain

from brokerjobs.backend import OutgoingMessage

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
MYSQL_URL = "mysql://root@127.0.0.1:3306/test"
BODY = b'{"v":1,"job":"bench.Noop","payload":{"n":1}}'


def make_backend(name: str, directory: Path) -> SQLBackend:
    if name == "sqlite":
        return SQLiteBackend(directory / "bench.db")
    if name == "postgres":
        return PostgresBackend(POSTGRES_URL)
    return MySQLBackend(MYSQL_URL)


async def through_backend(backend: SQLBackend, queue: str, jobs: int) -> tuple[float, float]:
    messages = [OutgoingMessage(BODY, uuid.uuid4().hex) for _ in range(jobs)]
    started = time.perf_counter()
    await backend.publish_batch(queue, messages)
    published = time.perf_counter()
    subscription = await backend.consume([queue], prefetch=50)
    for _ in range(jobs):
        await backend.ack(await anext(subscription))
    drained = time.perf_counter()
    await subscription.stop()
    return published - started, drained - published


def raw_loop(backend: SQLBackend, queue: str, jobs: int) -> tuple[float, float]:
    store = backend.store
    dialect = store.dialect
    connection: Any = dialect.connect()
    cursor = connection.cursor()
    insert = store.sql(
        "INSERT INTO {jobs} (queue, message_id, body, priority, attempts, available_at,"
        " created_at, updated_at) VALUES (%s, %s, %s, 0, 0, {now}, {now}, {now})"
    )
    started = time.perf_counter()
    for start in range(0, jobs, 500):
        rows = min(500, jobs - start)
        values = ", ".join([insert.split("VALUES ")[1]] * rows)
        params: list[Any] = []
        for _ in range(rows):
            params += [queue, uuid.uuid4().hex, BODY]
        cursor.execute(insert.split("VALUES ")[0] + "VALUES " + values, params)
    published = time.perf_counter()
    claim = store.sql(
        "SELECT id, body FROM {jobs} WHERE queue = %s AND available_at <= {now}"
        " ORDER BY priority DESC, available_at, id LIMIT 1{skip_locked}"
    )
    delete = store.sql("DELETE FROM {jobs} WHERE id = %s")
    done = 0
    while done < jobs:
        cursor.execute(dialect.begin)
        cursor.execute(claim, (queue,))
        row = cursor.fetchone()
        if row is not None:
            cursor.execute(delete, (row[0],))
            done += 1
        cursor.execute("COMMIT")
    drained = time.perf_counter()
    connection.close()
    return published - started, drained - published


async def bench(name: str, jobs: int, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        backend = make_backend(name, Path(directory))
        await backend.migrate()
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        try:
            backend_publish, backend_drain = await through_backend(backend, queue, jobs)
            raw_publish, raw_drain = await asyncio.to_thread(raw_loop, backend, queue, jobs)
            workers: dict[str, float] = {}
            for kind in JOB_KINDS:
                rate, duplicates = await publish_and_drain(
                    backend, queue, kind, jobs, concurrency=concurrency, prefetch=50
                )
                workers[f"worker {kind} drain/s"] = rate
                workers[f"worker {kind} duplicates"] = duplicates
        finally:
            backend.store.execute("DELETE FROM {jobs} WHERE queue = %s", (queue,))
            await backend.aclose()
    return {
        "backend publish/s": jobs / backend_publish,
        "raw publish/s": jobs / raw_publish,
        "backend drain/s": jobs / backend_drain,
        "raw drain/s": jobs / raw_drain,
        "backend e2e/s": jobs / (backend_publish + backend_drain),
        "raw e2e/s": jobs / (raw_publish + raw_drain),
        **workers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--databases", default="sqlite,postgres,mysql")
    parser.add_argument("--concurrency", type=int, default=64, help="of the worker rows")
    args = parser.parse_args()
    print(f"{args.jobs} jobs, one consumer, one run; worker rows: concurrency {args.concurrency}")
    print(f"{'database':10} {'':13} {'backend/s':>10} {'raw/s':>10} {'ratio':>7}")
    for name in args.databases.split(","):
        result = asyncio.run(bench(name, args.jobs, args.concurrency))
        for phase in ("publish", "drain", "e2e"):
            ours, raw = result[f"backend {phase}/s"], result[f"raw {phase}/s"]
            print(f"{name:10} {phase:13} {ours:10.0f} {raw:10.0f} {ours / raw:7.2f}")
        for kind in JOB_KINDS:
            # A worker drain against the raw drain (both start with the jobs queued).
            ours, raw = result[f"worker {kind} drain/s"], result["raw drain/s"]
            twice = result[f"worker {kind} duplicates"]
            note = f"   duplicate runs {twice:.0f}" if twice else ""
            row = f"{name:10} {'worker ' + kind:13} {ours:10.0f} {raw:10.0f} {ours / raw:7.2f}"
            print(row + note)


if __name__ == "__main__":
    main()
