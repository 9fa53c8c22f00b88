"""The coordination :class:`~brokerjobs.store.Store` on Redis, for Redis fleets.

Every operation is one command or one Lua script on one key, so the server runs it
atomically and its clock decides expiry (``PX``, ``PTTL``); nothing is read here and then
written back:

* ``set_if_absent``: ``SET key value NX PX ttl``.
* ``compare_and_set`` / ``compare_and_delete``: a script that compares the value with
  ``GET`` and then ``SET … PX`` or ``DEL``s it.
* ``count_in_window``: a script that opens the window (``SET … PX window``) or counts
  one more (``INCR``, the expiry kept) below the limit, else returns ``PTTL``.
* ``acquire_slot``: :class:`~brokerjobs.store.StoreBase`'s, one ``SET NX`` per slot key;
  slots are separate keys, so it works on Redis Cluster where slots hash apart.

Keys are ``<prefix>store:<key>`` (``brokerjobs:store:…`` by default). Each operation
touches one key, so on Redis Cluster any hash slot serves and no hash tag is needed; a
key containing ``{tag}`` is placed by that tag as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Final

from redis.commands.core import AsyncScript, Script

from brokerjobs.errors import (
    BrokerJobsError,
    BrokerUnavailableError,
    StoreError,
    StoreUnavailableError,
)
from brokerjobs.store import StoreBase, check_key, check_ttl, check_window

from .connection import AsyncScripts, Clients
from .settings import RedisSettings, load_settings
from .translate import translating

# KEYS: key; ARGV: expected, new value, ttl ms. 1 when replaced.
COMPARE_AND_SET: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

# KEYS: key; ARGV: expected. 1 when deleted.
COMPARE_AND_DELETE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: key; ARGV: limit, window ms. 0 when counted, else ms left in the window.
COUNT_IN_WINDOW: Final = """
local count = redis.call('GET', KEYS[1])
if not count then
  redis.call('SET', KEYS[1], 1, 'PX', ARGV[2])
  return 0
end
if tonumber(count) < tonumber(ARGV[1]) then
  redis.call('INCR', KEYS[1])
  return 0
end
local left = redis.call('PTTL', KEYS[1])
if left < 1 then return 1 end
return left
"""

SCRIPTS: Final = {
    "cas": COMPARE_AND_SET,
    "cad": COMPARE_AND_DELETE,
    "window": COUNT_IN_WINDOW,
}


def ttl_ms(ttl: float) -> int:
    """``ttl`` seconds as the whole milliseconds ``PX`` takes (at least 1)."""
    return max(1, round(check_ttl(ttl) * 1000))


class RedisStore(StoreBase):
    """The Store contract on one Redis server (or Sentinel master, or Cluster).

    Also a :class:`~brokerjobs.store.SyncStore`, so unique jobs can be dispatched from
    blocking code. Built from the Redis backend's settings; sharing a backend's
    connections when :meth:`brokerjobs_redis.RedisBackend.coordination_store` made it.
    """

    name: ClassVar[str] = "redis"

    def __init__(self, settings: RedisSettings | None = None, *, clients: Clients | None = None):
        self.settings = settings if settings is not None else load_settings()
        self._owns_clients = clients is None
        self.clients = clients if clients is not None else Clients(self.settings)
        self.key_prefix = f"{self.settings.prefix}store:"
        self._async_owner: AsyncScripts | None = None
        self._async_scripts: dict[str, AsyncScript] = {}
        self._sync_scripts: dict[str, Script] = {}
        self._sync_owner: object = None

    @classmethod
    def from_url(cls, url: str | None) -> RedisStore:
        """``redis://host:port/db`` (``rediss://``, ``redis+sentinel://`` too), or
        ``BROKERJOBS_REDIS_URL`` when None; other settings from ``BROKERJOBS_REDIS_*``."""
        return cls(load_settings(url=url) if url else load_settings())

    def __repr__(self) -> str:
        return f"RedisStore(url={self.settings.safe_url!r}, prefix={self.key_prefix!r})"

    def redis_key(self, key: str) -> str:
        """The Redis key holding the store key ``key``."""
        return self.key_prefix + check_key(key)

    # -- plumbing -------------------------------------------------------------------------
    @contextmanager
    def _translating(self, action: str) -> Iterator[None]:
        try:
            with translating(self.settings, f"store {action}"):
                yield
        except BrokerUnavailableError as exc:
            raise StoreUnavailableError(str(exc)) from None
        except StoreError:
            raise
        except BrokerJobsError as exc:  # refused access, out of memory, a script error
            raise StoreError(str(exc)) from None

    def _aio(self) -> tuple[Any, dict[str, AsyncScript]]:
        current = self.clients.aio()
        if self._async_owner is not current:  # a new event loop: a new client
            self._async_scripts = {
                name: current.client.register_script(text) for name, text in SCRIPTS.items()
            }
            self._async_owner = current
        return current.client, self._async_scripts

    def _sync(self) -> tuple[Any, dict[str, Script]]:
        client = self.clients.sync()
        if self._sync_owner is not client:
            self._sync_scripts = {
                name: client.register_script(text) for name, text in SCRIPTS.items()
            }
            self._sync_owner = client
        return client, self._sync_scripts

    # -- asyncio operations ---------------------------------------------------------------
    async def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        name, ms = self.redis_key(key), ttl_ms(ttl)
        with self._translating(f"set_if_absent({key!r})"):
            client, _ = self._aio()
            return bool(await client.set(name, bytes(value), nx=True, px=ms))

    async def get(self, key: str) -> bytes | None:
        name = self.redis_key(key)
        with self._translating(f"get({key!r})"):
            client, _ = self._aio()
            found = await client.get(name)
        return None if found is None else bytes(found)

    async def compare_and_set(self, key: str, expected: bytes, value: bytes, *, ttl: float) -> bool:
        name, ms = self.redis_key(key), ttl_ms(ttl)
        with self._translating(f"compare_and_set({key!r})"):
            _, scripts = self._aio()
            done = await scripts["cas"](keys=[name], args=[bytes(expected), bytes(value), ms])
        return int(done) == 1

    async def compare_and_delete(self, key: str, expected: bytes) -> bool:
        name = self.redis_key(key)
        with self._translating(f"compare_and_delete({key!r})"):
            _, scripts = self._aio()
            done = await scripts["cad"](keys=[name], args=[bytes(expected)])
        return int(done) == 1

    async def count_in_window(self, key: str, *, limit: int, window: float) -> float:
        name, ms = self.redis_key(key), ttl_ms(check_window(key, limit, window))
        with self._translating(f"count_in_window({key!r})"):
            _, scripts = self._aio()
            left = await scripts["window"](keys=[name], args=[limit, ms])
        return int(left) / 1000.0

    # -- blocking twins (dispatch of unique jobs) -------------------------------------------
    def set_if_absent_sync(self, key: str, value: bytes, *, ttl: float) -> bool:
        name, ms = self.redis_key(key), ttl_ms(ttl)
        with self._translating(f"set_if_absent({key!r})"):
            client, _ = self._sync()
            return bool(client.set(name, bytes(value), nx=True, px=ms))

    def get_sync(self, key: str) -> bytes | None:
        name = self.redis_key(key)
        with self._translating(f"get({key!r})"):
            client, _ = self._sync()
            found = client.get(name)
        return None if found is None else bytes(found)

    def compare_and_delete_sync(self, key: str, expected: bytes) -> bool:
        name = self.redis_key(key)
        with self._translating(f"compare_and_delete({key!r})"):
            _, scripts = self._sync()
            done = scripts["cad"](keys=[name], args=[bytes(expected)])
        return int(done) == 1

    # -- lifetime -------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the connections this store opened (a backend's own are left to it)."""
        self._async_owner = None
        self._sync_owner = None
        if self._owns_clients:
            await self.clients.aclose()
            self.clients.close()
