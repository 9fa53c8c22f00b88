"""What every command shares: error handling, backend and app options, logging setup."""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import click

from brokerjobs import config
from brokerjobs.backend import Backend
from brokerjobs.dead_letter_ops import job_aliases
from brokerjobs.discovery import get_backend
from brokerjobs.errors import BrokerJobsError, UnknownBackendError

__all__ = ["job_aliases"]  # re-exported for the commands

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class CommandFailed(click.ClickException):
    """A runtime failure (exit 1), printed as one ``Error: ...`` line."""


class UsageProblem(click.ClickException):
    """A wrong value given by the user (exit 2), printed as one line without the usage."""

    exit_code = 2

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine, turning brokerjobs errors into one-line CLI errors."""
    try:
        return asyncio.run(factory())
    except UnknownBackendError as exc:
        raise UsageProblem("--backend", str(exc)) from None
    except BrokerJobsError as exc:
        raise CommandFailed(str(exc)) from None


def backend_option(func: F) -> F:
    """``--backend NAME`` (default: BROKERJOBS_BACKEND, else the configured default)."""
    return click.option(
        "--backend",
        "backend_name",
        metavar="NAME",
        help="Backend to use (default: $BROKERJOBS_BACKEND, else sqlite).",
    )(func)


def app_option(func: F) -> F:
    """``--app MODULE`` (repeatable, comma-separated; default $BROKERJOBS_APP)."""
    return click.option(
        "--app",
        "apps",
        metavar="MODULE",
        multiple=True,
        envvar="BROKERJOBS_APP",
        help="Module(s) to import so their jobs are registered (default: $BROKERJOBS_APP).",
    )(func)


def log_options(func: F) -> F:
    """``--log-format text|json`` and ``--log-level`` (for :func:`setup_logging`)."""
    func = click.option(
        "--log-level",
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
        default="INFO",
        show_default=True,
    )(func)
    return click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: one JSON object per line (for containers).",
    )(func)


OPTIONS_ENV = "BROKERJOBS_BACKEND_OPTIONS"


def backend_options_from_env(name: str) -> None:
    """Apply ``$BROKERJOBS_BACKEND_OPTIONS`` (a JSON object of the backend's options)."""
    raw = os.environ.get(OPTIONS_ENV)
    if not raw:
        return
    try:
        options = json.loads(raw)
    except ValueError as exc:
        raise UsageProblem(OPTIONS_ENV, f"not valid JSON: {exc}") from None
    if not isinstance(options, dict):
        raise UsageProblem(OPTIONS_ENV, "must be a JSON object of backend options")
    config.configure(backend_options={name: options})


def open_backend(name: str | None) -> Backend:
    """The backend named ``name`` (or the configured default), as a one-line error if unknown.

    ``$BROKERJOBS_BACKEND_OPTIONS`` may give it options that have no environment
    variable of their own, as JSON: ``{"lease_seconds": 60}``.
    """
    name = name or config.settings().backend
    backend_options_from_env(name)
    try:
        return get_backend(name)
    except UnknownBackendError as exc:
        raise UsageProblem("--backend", str(exc)) from None
    except BrokerJobsError as exc:
        raise CommandFailed(str(exc)) from None


async def close_backend(backend: Backend) -> None:
    try:
        await backend.aclose()
    finally:
        backend.close()


def import_apps(apps: tuple[str, ...]) -> list[str]:
    """Import every module named in ``apps`` (from the current directory too)."""
    names = [name.strip() for value in apps for name in value.split(",") if name.strip()]
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise UsageProblem("--app", f"cannot import {name!r}: {exc}") from None
        except SyntaxError as exc:
            where = f" ({exc.filename}, line {exc.lineno})" if exc.filename else ""
            raise UsageProblem(
                "--app", f"cannot import {name!r}: {type(exc).__name__}: {exc.msg}{where}"
            ) from None
        except Exception as exc:  # the module raised while importing: its bug, one line
            raise UsageProblem(
                "--app",
                f"cannot import {name!r}: it raised {type(exc).__name__}: {exc} "
                f"(run python -c 'import {name}' to see the traceback)",
            ) from None
    return names


def split_queues(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def async_command(func: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Let a click command be an ``async def``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        async def call() -> T:
            return await func(*args, **kwargs)

        return run_async(call)

    return wrapper


def setup_logging(log_format: str, level: str = "INFO") -> None:
    """Logs go to stderr: plain text, or JSON lines (with job and trace fields) for ``json``."""
    from brokerjobs.telemetry.logs import configure_logging

    configure_logging("json" if log_format == "json" else "text", level.upper())
