"""Idempotency records: the state of one key in the store, and keeping a claim alive.

A record is a small JSON value: ``{"s": "running" | "done", "p": payload digest,
"m": message id, "t": claim token}``. The token makes a running record unique to one
delivery's run, so only that run can renew, complete or drop it (compare-and-set).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from brokerjobs.guards.signals import log
from brokerjobs.store import Store


@dataclass(frozen=True, slots=True)
class Record:
    state: str
    payload: str
    message_id: str
    token: str

    def encode(self) -> bytes:
        return json.dumps(
            {"s": self.state, "p": self.payload, "m": self.message_id, "t": self.token},
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Record:
        data = json.loads(raw)
        return cls(str(data["s"]), str(data["p"]), str(data["m"]), str(data["t"]))

    @classmethod
    def running(cls, payload: str, message_id: str) -> Record:
        return cls("running", payload, message_id, uuid.uuid4().hex)

    def done(self) -> Record:
        return Record("done", self.payload, self.message_id, self.token)


@contextlib.asynccontextmanager
async def kept_alive(store: Store, key: str, value: bytes, ttl: float) -> AsyncIterator[None]:
    """Renew ``key`` (held with ``value``) every third of ``ttl`` while the block runs.

    If this process dies the renewals stop and the key expires ``ttl`` seconds later:
    that is how a crashed worker's slots and in-progress records are freed.
    """

    async def renew() -> None:
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                if not await store.compare_and_set(key, value, value, ttl=ttl):
                    log.warning("lost the store key %s while its job ran (it expired)", key)
                    return
            except Exception as exc:  # a store hiccup: the next renewal tries again
                log.warning("could not renew the store key %s: %s", key, exc)

    task = asyncio.create_task(renew(), name=f"brokerjobs-renew-{key}")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
