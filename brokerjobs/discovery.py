"""Finding backends through the ``brokerjobs.backends`` entry-point group.

Only the backend asked for is imported, so a service using SQS never imports an AMQP
client. Instances are cached per process: a child after ``fork()`` builds its own instead
of reusing its parent's sockets.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from brokerjobs import config
from brokerjobs.backend import Backend
from brokerjobs.errors import ConfigurationError, UnknownBackendError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "brokerjobs.backends"

_lock = threading.Lock()
_instances: dict[str, Backend] = {}
_owner_pid = os.getpid()
_override: Backend | None = None


def installed_backends() -> dict[str, EntryPoint]:
    """Every backend entry point installed, by name."""
    from importlib.metadata import entry_points  # late: only a backend look-up needs it

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def backend_class(name: str) -> type[Backend]:
    """Import and return the backend class registered as ``name``."""
    installed = installed_backends()
    entry = installed.get(name)
    if entry is None:
        raise UnknownBackendError(name, list(installed))
    try:
        cls = entry.load()
    except ImportError as exc:
        raise ConfigurationError(
            f"backend {name!r} is installed but cannot be imported ({exc}); "
            f'reinstall it with: pip install "brokerjobs[{name}]"'
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ConfigurationError(f"entry point {name!r} ({entry.value}) is not a Backend class")
    return cls


def get_backend(spec: str | Backend | None = None) -> Backend:
    """The backend for ``spec``: an instance as is, a name from the cache, or the default."""
    if isinstance(spec, Backend):
        return spec
    if _override is not None:
        return _override
    if spec is None:
        configured = config.default_backend_instance()
        if configured is not None:
            return configured
        spec = config.settings().backend
    global _owner_pid
    with _lock:
        if os.getpid() != _owner_pid:
            # Forked child: the parent's connections are not ours to use or to close.
            _instances.clear()
            _owner_pid = os.getpid()
        backend = _instances.get(spec)
        if backend is None:
            backend = _build(spec)
            _instances[spec] = backend
        return backend


def override(backend: Backend | None) -> Backend | None:
    """Make every name (and the default) resolve to ``backend``; None undoes it.

    For tests (``brokerjobs.testing``): one in-memory backend stands in for every
    configured broker. Returns the previous override so it can be restored.
    """
    global _override
    previous, _override = _override, backend
    return previous


def _build(name: str) -> Backend:
    options = config.backend_options(name)
    try:
        return backend_class(name).from_options(**options)
    except TypeError as exc:  # an option this backend does not take
        given = ", ".join(sorted(options)) or "none"
        raise ConfigurationError(
            f"backend {name!r} cannot be built with the options given ({given}): {exc}"
        ) from None


def forget_backends() -> None:
    """Close the cached sync connections and drop the cache (options changed, or tests)."""
    with _lock:
        backends = list(_instances.values()) if os.getpid() == _owner_pid else []
        _instances.clear()
    for backend in backends:
        backend.close()
