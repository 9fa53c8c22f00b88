"""Unique jobs, dispatch side: take the lock with the new message id, or find the holder's.

The lock's value is the message id of the job holding it, so a duplicate dispatch can say
which job is already queued, and only that job's worker can release it
(``compare_and_delete``). Expiry (``unique_for``) frees a lock whose job died with it.
"""

from __future__ import annotations

from brokerjobs.errors import ConfigurationError, StoreError
from brokerjobs.store import Store, SyncStore

_TRIES = 5


def _sync(store: Store) -> SyncStore:
    if not isinstance(store, SyncStore):
        raise ConfigurationError(
            f"{type(store).__name__} has no blocking operations; dispatch unique jobs "
            "with dispatch_async() instead"
        )
    return store


def take_sync(store: Store, key: str, message_id: str, ttl: float) -> str | None:
    """Take the lock for ``message_id``; None when taken, else the id already holding it."""
    blocking = _sync(store)
    for _ in range(_TRIES):
        if blocking.set_if_absent_sync(key, message_id.encode(), ttl=ttl):
            return None
        holder = blocking.get_sync(key)
        if holder is not None:
            return holder.decode()
        # Released or expired between the two calls: try again.
    raise StoreError(f"could not take or read the uniqueness lock {key!r}")


async def take(store: Store, key: str, message_id: str, ttl: float) -> str | None:
    """Async twin of :func:`take_sync`."""
    for _ in range(_TRIES):
        if await store.set_if_absent(key, message_id.encode(), ttl=ttl):
            return None
        holder = await store.get(key)
        if holder is not None:
            return holder.decode()
    raise StoreError(f"could not take or read the uniqueness lock {key!r}")


def give_back_sync(store: Store, key: str, message_id: str) -> None:
    """Release the lock taken for ``message_id`` (its publish failed)."""
    _sync(store).compare_and_delete_sync(key, message_id.encode())


async def give_back(store: Store, key: str, message_id: str) -> bool:
    """Release the lock if ``message_id`` still holds it (the worker's side)."""
    return await store.compare_and_delete(key, message_id.encode())
