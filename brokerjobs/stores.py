"""Finding the coordination store: ``BROKERJOBS_STORE``, the ``brokerjobs.stores`` entry points.

``BROKERJOBS_STORE`` is a URL (``postgresql://…``, ``mysql://…``, ``sqlite:///path``,
``dynamodb://TABLE?region=…``, ``memory://``) or the name of an installed store. Unset, the
queue backend serves as the store when it is one (SQL, memory); otherwise a feature that
needs a store raises :class:`~brokerjobs.errors.StoreNotConfiguredError` saying what to set.
Only the store asked for is imported; instances are cached per process.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from brokerjobs import config
from brokerjobs.backend import Backend
from brokerjobs.errors import ConfigurationError, StoreNotConfiguredError
from brokerjobs.store import Store

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "brokerjobs.stores"
SCHEMES = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "mariadb": "mysql",
    "mysql+pymysql": "mysql",
    "rediss": "redis",
    "redis+sentinel": "redis",
    "rediss+sentinel": "redis",
}
"""URL schemes whose store's entry-point name differs from the scheme."""

_lock = threading.Lock()
_instances: dict[str, Store] = {}
_owner_pid = os.getpid()
_override: Store | None = None


@runtime_checkable
class ProvidesStore(Protocol):
    """A backend that is itself a store (SQL, memory): the default when none is configured."""

    def coordination_store(self) -> Store:
        """A store on the same server (database file, in-memory state) as the queues."""
        ...


def installed_stores() -> dict[str, EntryPoint]:
    """Every store entry point installed, by name."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def store_name(spec: str) -> str:
    """The entry-point name a ``BROKERJOBS_STORE`` value selects."""
    if "://" not in spec:
        return spec
    scheme = urlsplit(spec).scheme.lower()
    return SCHEMES.get(scheme, scheme)


def get_store(
    spec: str | None = None,
    *,
    backend: str | Backend | None = None,
    needed_by: str = "this feature",
) -> Store:
    """The store for ``spec`` (URL or name), else ``BROKERJOBS_STORE``, else the backend's.

    ``backend`` is the queue backend used when no store is configured (default: the
    configured backend). ``needed_by`` names the feature in the error raised when there
    is no store at all.
    """
    if _override is not None:
        return _override
    spec = spec or config.settings().store
    if spec:
        return _cached(spec)
    from brokerjobs.discovery import get_backend

    queues = get_backend(backend)
    if isinstance(queues, ProvidesStore):
        return queues.coordination_store()
    raise StoreNotConfiguredError(needed_by, queues.name)


def _cached(spec: str) -> Store:
    global _owner_pid
    with _lock:
        if os.getpid() != _owner_pid:  # forked child: the parent's connections are not ours
            _instances.clear()
            _owner_pid = os.getpid()
        store = _instances.get(spec)
        if store is None:
            store = _instances[spec] = build_store(spec)
        return store


def build_store(spec: str) -> Store:
    """A new store for ``spec`` (not cached)."""
    name = store_name(spec)
    installed = installed_stores()
    entry = installed.get(name)
    if entry is None:
        listed = ", ".join(sorted(installed)) or "none"
        raise ConfigurationError(
            f"no installed store is named {name!r} (from BROKERJOBS_STORE); installed "
            f'stores: {listed}. To add it, run: pip install "brokerjobs[{name}]"'
        )
    try:
        cls: Any = entry.load()
    except ImportError as exc:
        raise ConfigurationError(
            f"store {name!r} is installed but cannot be imported ({exc}); "
            f'reinstall it with: pip install "brokerjobs[{name}]"'
        ) from exc
    store = cls.from_url(spec if "://" in spec else None)
    if not isinstance(store, Store):
        raise ConfigurationError(f"store entry point {name!r} ({entry.value}) is not a Store")
    return store


def override(store: Store | None) -> Store | None:
    """Make every look-up return ``store`` (None undoes it); returns the previous override."""
    global _override
    previous, _override = _override, store
    return previous


def forget_stores() -> None:
    """Drop the cached stores (configuration changed, or tests); they are not closed."""
    with _lock:
        _instances.clear()
