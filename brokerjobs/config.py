"""Configuration: ``BROKERJOBS_*`` environment variables, overridden by :func:`configure`."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from brokerjobs.backend import Backend

if TYPE_CHECKING:
    from brokerjobs.core_settings import Settings as Settings  # re-exported

DEFAULT_BACKEND = "sqlite"


def __getattr__(name: str) -> Any:
    # ``config.Settings`` stays importable, but pydantic_settings loads only on first use.
    if name == "Settings":
        from brokerjobs.core_settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settings: Settings | None = None
        self.default_backend: Backend | None = None
        self.backend_options: dict[str, dict[str, Any]] = {}


_state = _State()


def settings() -> Settings:
    """The effective settings (read from the environment once, then cached)."""
    cached = _state.settings
    if cached is not None:  # the hot path: dispatch reads the settings on every call
        return cached
    from brokerjobs.core_settings import Settings as Settings  # re-exported

    with _state.lock:
        if _state.settings is None:
            _state.settings = Settings()
        return _state.settings


def configure(
    backend: str | Backend | None = None,
    *,
    backend_options: Mapping[str, Mapping[str, Any]] | None = None,
    **overrides: Any,
) -> None:
    """Set configuration in code; unset arguments keep their current value.

    ``backend`` is an entry-point name or a ready backend instance used as the default.
    ``backend_options`` maps backend names to keyword options for their ``from_options``,
    e.g. ``{"rabbitmq": {"url": "amqp://..."}}``. Other keywords override :class:`Settings`
    fields (``max_message_size=...``). Backends already created are closed and rebuilt on
    next use so the new options take effect.
    """
    from brokerjobs import discovery  # late: discovery imports this module
    from brokerjobs.core_settings import Settings as Settings  # re-exported

    current = settings()
    changes: dict[str, Any] = dict(overrides)
    with _state.lock:
        if isinstance(backend, Backend):
            _state.default_backend = backend
        elif backend is not None:
            _state.default_backend = None
            changes["backend"] = backend
        if changes:
            _state.settings = Settings.model_validate({**current.model_dump(), **changes})
        if backend_options:
            for name, options in backend_options.items():
                _state.backend_options[name] = dict(options)
    discovery.forget_backends()


def backend_options(name: str) -> dict[str, Any]:
    """Options given to :func:`configure` for backend ``name``."""
    with _state.lock:
        return dict(_state.backend_options.get(name, {}))


def default_backend_instance() -> Backend | None:
    """The backend instance passed to :func:`configure`, if any."""
    return _state.default_backend


def reset() -> None:
    """Forget everything set by :func:`configure` and re-read the environment (for tests)."""
    from brokerjobs import discovery

    with _state.lock:
        _state.settings = None
        _state.default_backend = None
        _state.backend_options.clear()
    discovery.forget_backends()
