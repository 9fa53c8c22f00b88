"""redis-py exceptions turned into :mod:`brokerjobs.errors`, secrets scrubbed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis.exceptions as rex

from brokerjobs.errors import (
    BackendError,
    BrokerJobsError,
    BrokerUnavailableError,
    ConfigurationError,
    PublishRejectedError,
)

from .settings import RedisSettings


class AccessRefusedError(BackendError, ConfigurationError):
    """Redis refused the credentials or the ACL permissions (fix the URL or the user)."""


_UNAVAILABLE = (
    rex.ConnectionError,
    rex.TimeoutError,
    rex.BusyLoadingError,
    rex.ReadOnlyError,
    rex.MasterDownError,
    rex.TryAgainError,
    rex.ClusterDownError,
    rex.MaxConnectionsError,
    rex.RedisClusterException,  # no node of the cluster reachable, a slot not covered
    OSError,
)


def translate(exc: BaseException, settings: RedisSettings, action: str) -> BrokerJobsError:
    """The brokerjobs error for ``exc`` raised while doing ``action`` (e.g. "publish to 'q'")."""
    if isinstance(exc, BrokerJobsError):
        return exc
    detail = settings.scrub(f"{type(exc).__name__}: {exc}")
    where = f"Redis at {settings.safe_url}"
    if isinstance(exc, rex.AuthenticationError | rex.AuthorizationError | rex.NoPermissionError):
        return AccessRefusedError(
            f"{action}: {where} refused access ({detail}); check the user and password in "
            "BROKERJOBS_REDIS_URL and the user's ACL"
        )
    if isinstance(exc, rex.OutOfMemoryError):
        return PublishRejectedError(
            f"{action}: {where} is out of memory (maxmemory reached; {detail}); "
            "nothing was written: free memory or raise maxmemory"
        )
    if isinstance(exc, _UNAVAILABLE):
        return BrokerUnavailableError(
            f"{action}: lost or could not open the connection to {where} ({detail}); "
            "is Redis running? (redis-server, or check BROKERJOBS_REDIS_URL)"
        )
    if isinstance(exc, rex.RedisError | rex.RedisClusterException):
        return BackendError(f"{action}: unexpected error from {where} ({detail})")
    # Not a driver exception: a bug, which must surface as itself with its traceback.
    raise exc


@contextmanager
def translating(settings: RedisSettings, action: str) -> Iterator[None]:
    """Translate driver exceptions raised inside the block (the backend's edge)."""
    try:
        yield
    except (rex.RedisError, rex.RedisClusterException, OSError) as exc:
        raise translate(exc, settings, action) from None
