"""Jobs: pydantic models with a ``run`` method, registered by a stable name."""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from brokerjobs.errors import UnknownJobError
from brokerjobs.options import JobOptions

_OPTION_NAMES = frozenset(f.name for f in JobOptions.__dataclass_fields__.values())


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a running job knows about its own execution."""

    message_id: str
    job_name: str
    queue: str
    attempt: int
    """1 on the first run; a retry or a redelivery after a crash adds one."""
    max_attempts: int
    enqueued_at: datetime
    headers: Mapping[str, str] = field(default_factory=dict)
    logger: logging.LoggerAdapter[logging.Logger] = field(
        default_factory=lambda: logging.LoggerAdapter(logging.getLogger("brokerjobs.job"))
    )

    @property
    def is_last_attempt(self) -> bool:
        """True when a failure now sends the message to the dead-letter queue."""
        return self.attempt >= self.max_attempts


class Job(BaseModel):
    """Base class of every job. Fields are the payload; ``run`` does the work.

    Options go in the class statement and are inherited::

        class SendWelcomeEmail(Job, queue="emails", max_attempts=3, time_limit=30):
            user_id: int

            async def run(self, ctx: JobContext) -> None: ...

    ``name=`` fixes the registry name (default ``module.QualifiedName``); keep it stable
    across deploys, since messages in flight carry it. ``abstract=True`` marks a base class
    that is not registered.
    """

    model_config = ConfigDict(extra="forbid")

    job_name: ClassVar[str] = ""
    job_options: ClassVar[JobOptions] = JobOptions()

    def __init_subclass__(
        cls, *, name: str | None = None, abstract: bool = False, **kwargs: Any
    ) -> None:
        options = {key: kwargs.pop(key) for key in list(kwargs) if key in _OPTION_NAMES}
        super().__init_subclass__(**kwargs)
        cls.job_options = cls.job_options.replace(**options)
        if abstract:
            cls.job_name = ""
            return
        cls.job_name = name or f"{cls.__module__}.{cls.__qualname__}"
        registry.register(cls)

    def run(self, ctx: JobContext) -> Awaitable[None] | None:
        """Do the work. May be ``async def``. Raise to fail (and be retried per the options)."""
        raise NotImplementedError(f"{type(self).__name__} must define run(self, ctx)")


class JobRegistry:
    """Maps job names to classes; the worker looks envelopes' job names up here."""

    def __init__(self) -> None:
        self._jobs: dict[str, type[Job]] = {}
        self._lock = threading.Lock()

    def register(self, cls: type[Job]) -> None:
        """Add ``cls`` under ``cls.job_name``; a different class under a taken name is an error.

        Re-running the same class statement (a module reload, a fixture defining a local
        class twice) replaces the old class instead.
        """
        with self._lock:
            existing = self._jobs.get(cls.job_name)
            if existing is not None and not _same_definition(existing, cls):
                raise TypeError(
                    f"job name {cls.job_name!r} is already used by "
                    f"{existing.__module__}.{existing.__qualname__}; give one of them "
                    f"another name with `class {cls.__name__}(Job, name=...)`"
                )
            self._jobs[cls.job_name] = cls

    def get(self, name: str) -> type[Job]:
        """The class registered under ``name``, or :class:`UnknownJobError`."""
        try:
            return self._jobs[name]
        except KeyError:
            raise UnknownJobError(name) from None

    def names(self) -> list[str]:
        """Every registered job name, sorted."""
        return sorted(self._jobs)

    def __contains__(self, name: object) -> bool:
        return name in self._jobs


def _same_definition(a: type[Job], b: type[Job]) -> bool:
    return a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__


registry = JobRegistry()
"""The process-wide registry every ``Job`` subclass joins when it is defined."""
