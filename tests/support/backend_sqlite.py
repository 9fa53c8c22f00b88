"""Test harness for the SQLite backend (a temporary database file per test).

Also defines :class:`SQLHarness`, the part shared with the PostgreSQL and MySQL harnesses.
Leases are short (2 s) so a crashed consumer's rows come back quickly.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import pytest
from brokerjobs_sql import SQLBackend, SQLiteBackend

from brokerjobs.backend import Backend
from tests.support.harness import BackendHarness

LEASE_SECONDS = 2.0


class SQLHarness(BackendHarness):
    """Backends with short leases; ``crash`` abandons one without settling anything."""

    redelivery_timeout: ClassVar[float] = LEASE_SECONDS + 6.0

    def __init__(self) -> None:
        super().__init__()
        self.backends: list[SQLBackend] = []

    def make_backend(self) -> SQLBackend:
        """A backend of the database under test (not yet tracked)."""
        raise NotImplementedError

    def options(self) -> dict[str, Any]:
        """Keyword options of :meth:`make_backend`'s backend, as JSON-friendly values."""
        raise NotImplementedError

    def subprocess_env(self) -> dict[str, str]:
        """Environment for a worker process (``brokerjobs consume``) on the same database."""
        return {
            "BROKERJOBS_BACKEND": self.name,
            "BROKERJOBS_BACKEND_OPTIONS": json.dumps(self.options()),
        }

    async def new_backend(self) -> SQLBackend:
        backend = self.make_backend()
        self.backends.append(backend)
        return backend

    async def crash(self, backend: Backend) -> None:
        assert isinstance(backend, SQLBackend)
        await backend.abandon()

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()
            backend.close()
        self.backends.clear()


class SQLiteHarness(SQLHarness):
    """Every backend of a test shares one fresh SQLite file, as processes on a host would."""

    name: ClassVar[str] = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="brokerjobs-sqlite-"))
        self.path = self.directory / "jobs.db"

    def options(self) -> dict[str, Any]:
        return {"path": str(self.path), "lease_seconds": LEASE_SECONDS, "poll_interval": 0.05}

    def make_backend(self) -> SQLBackend:
        return SQLiteBackend(**self.options())

    async def aclose(self) -> None:
        await super().aclose()
        shutil.rmtree(self.directory, ignore_errors=True)


HARNESS = SQLiteHarness
MARKS = [pytest.mark.sqlite]
