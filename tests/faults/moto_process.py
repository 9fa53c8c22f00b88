"""A moto server in a process of its own, so a scenario can kill -9 and restart it.

moto keeps everything in memory: a restarted server has no queues and no messages.
What that can show: the worker survives its endpoint vanishing (errors translated,
backoff without a busy loop, no crash) and resumes once it is back. What it cannot: the
durability of SQS itself; messages lost with the server are excluded from the checker.

The server runs with :func:`make_sqs_queues_atomic` applied (``python -m
tests.faults.moto_process``): moto serves each request in a thread of its own, and its
``DeleteMessage`` rebuilds a queue's message list without a lock, so a message sent while
another delete scans the list is dropped and the deleted one can come back. That is moto
losing what SQS accepted, not the backend; unpatched, the soak would count it as lost.
It also gets FIFO deduplication as SQS documents it (:func:`deduplicate_fifo_like_sqs`),
which the scheduler's SQS-only tick claiming relies on.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.faults.rabbit_node import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class MotoProcess:
    def __init__(self, log: Path, *, atomic: bool = True) -> None:
        """``atomic=False`` runs moto as shipped (to measure what its races cost)."""
        self.log = log
        self.module = __spec__.name if atomic else "moto.server"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, "-H", "127.0.0.1", "-p", str(self.port)],
            cwd=ROOT,
            stdout=handle,
            stderr=handle,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start; see {self.log}")
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def pause(self) -> None:
        """SIGSTOP: the server accepts connections but answers nothing (a starved host)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.kill9()
        self.start()

    def stop(self) -> None:
        self.kill9()


def make_sqs_queues_atomic() -> None:
    """Run moto's per-queue receive and delete under the queue's own lock (as ``send`` is).

    Without it, moto 5.x's ``Queue.delete_message`` scans ``_messages`` and assigns a
    rebuilt list; a concurrent ``add_message`` (which does take the lock) appends to a
    list that the slower delete then overwrites. The lock is a ``Condition`` over an
    ``RLock``: a long poll's ``wait_for`` still releases it while it waits.
    """
    from moto.sqs import models

    delete = models.Queue.delete_message
    receive = models.SQSBackend.receive_message

    def atomic_delete(self: Any, receipt_handle: str) -> None:
        with self._messages_lock:
            delete(self, receipt_handle)

    def atomic_receive(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        with self.get_queue(queue_name)._messages_lock:
            return receive(self, queue_name, *args, **kwargs)

    models.Queue.delete_message = atomic_delete  # type: ignore[method-assign]
    models.SQSBackend.receive_message = atomic_receive  # type: ignore[method-assign]


def deduplicate_fifo_like_sqs() -> None:
    """Make moto drop a repeated FIFO ``MessageDeduplicationId`` the way SQS does.

    SQS: a message sent with the deduplication id of one *sent* in the last 5 minutes is
    accepted and not delivered, whether the first was consumed or not. moto 5.x compares
    only with the messages still in the queue (a tick consumed and deleted, then sent
    again by a second scheduler, is delivered twice), and checks outside the queue's
    lock (two concurrent sends of one id both get in). Here: ids sent in the last 5
    minutes are remembered per queue, and the check-and-add holds the lock.

    Also for FIFO queues: a long poll whose queue has visible messages of a group that is
    in flight made moto spin without waiting (its wait predicate is "any visible
    message"), holding the queue lock that :func:`make_sqs_queues_atomic` adds, so every
    send and delete on the queue stalled for the whole poll. Its wait now sleeps on the
    lock's condition (releasing it) for a moment.
    """
    import time as clock

    from moto.sqs import models

    add = models.Queue.add_message
    window_ms = models.DEDUPLICATION_TIME_IN_SECONDS * 1000

    def add_message(self: Any, message: Any) -> None:
        dedup_id = message.deduplication_id
        if not (self.fifo_queue and dedup_id):
            add(self, message)
            return
        with self._messages_lock:  # an RLock: moto's add takes it again
            seen: dict[str, float] = self.__dict__.setdefault("_sent_dedup_ids", {})
            now = clock.time() * 1000
            for old in [key for key, at in seen.items() if now - at >= window_ms]:
                del seen[old]
            if dedup_id in seen:
                return
            seen[dedup_id] = now
            add(self, message)

    wait = models.Queue.wait_for_messages

    def wait_for_messages(self: Any, timeout: int) -> None:
        if not self.fifo_queue:
            wait(self, timeout)
            return
        with self._messages_lock:
            self._messages_lock.wait(timeout=min(timeout, 0.05))

    models.Queue.add_message = add_message  # type: ignore[method-assign]
    models.Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]


if __name__ == "__main__":
    from moto.server import main

    make_sqs_queues_atomic()
    deduplicate_fifo_like_sqs()
    main(sys.argv[1:])
