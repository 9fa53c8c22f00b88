"""Redis backend for brokerjobs: queues on Redis Streams with consumer groups.

Per queue: a stream read by one consumer group (``XREADGROUP``, settled with
``XACK`` + ``XDEL``, a crashed consumer's entries reclaimed with ``XAUTOCLAIM`` after
the lease), a sorted set for delays and retries moved by one Lua script, and a
dead-letter stream. Every key of a queue shares the hash tag ``{queue}``. See
``docs/backends/redis.md``.
"""

from brokerjobs_redis.backend import RedisBackend
from brokerjobs_redis.durability import Persistence
from brokerjobs_redis.settings import RedisSettings
from brokerjobs_redis.store import RedisStore

__all__ = ["Persistence", "RedisBackend", "RedisSettings", "RedisStore"]
