"""Harness for the in-memory backend: one shared store per test, real time."""

from __future__ import annotations

from brokerjobs.backend import Backend
from brokerjobs.memory import MemoryBackend
from brokerjobs.memory_store import MemoryStore
from tests.support.harness import BackendHarness


class MemoryHarness(BackendHarness):
    name = "memory"
    redelivery_timeout = 2.0
    timing_tolerance = 0.5

    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore()
        self.backends: list[MemoryBackend] = []

    async def new_backend(self) -> Backend:
        backend = MemoryBackend(self.store, lease=30.0)
        self.backends.append(backend)
        return backend

    def subprocess_env(self) -> dict[str, str]:
        raise NotImplementedError(
            "the memory backend lives inside one process: a worker subprocess cannot reach "
            "it (these tests run on every broker-backed harness)"
        )

    async def crash(self, backend: Backend) -> None:
        assert isinstance(backend, MemoryBackend)
        backend.crash()

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()


HARNESS = MemoryHarness
MARKS: list[object] = []
