"""The soak's ``--job-kind``: the producer dispatches the chosen twin, and both behave alike.

The soak itself runs on a private broker and takes minutes (a script, not a CI test);
here its producer runs against the in-memory fake broker, whose real worker then runs
the jobs, so the wiring from the flag to the jobs the workers run is checked in CI.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from brokerjobs.backend import Backend
from brokerjobs.testing import fake_broker
from brokerjobs.worker.execution import is_async_job
from tests.faults import jobs, soak
from tests.faults.ledger import ENV_VAR, Ledger


class FakeTarget:
    """Just what :class:`soak.Soak` asks of a target before it starts any worker."""

    name = "memory"
    queue = "bjfaults-soak"

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def env(self) -> dict[str, str]:
        return {}

    def backend(self) -> Backend:
        return self._backend


def test_job_kind_defaults_to_async_and_names_the_twins() -> None:
    assert soak.parse([]).job_kind == "async"
    assert soak.parse(["--job-kind", "sync"]).job_kind == "sync"
    assert is_async_job(jobs.WORK_KINDS["async"])
    assert not is_async_job(jobs.WORK_KINDS["sync"])  # the worker's thread pool runs it
    with pytest.raises(SystemExit):
        soak.parse(["--job-kind", "threads"])


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_soak_producer_dispatches_the_chosen_kind_and_flaky_jobs_retry_once(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "ledger.db"))
    ledger = Ledger(tmp_path / "ledger.db")
    args = soak.parse(["--jobs", "40", "--batch", "10", "--flaky", "0.1", "--job-kind", kind])
    with fake_broker() as broker:
        run = soak.Soak(args, FakeTarget(broker.backend), ledger, tmp_path)  # type: ignore[arg-type]
        await run.produce()
        assert {type(job) for job in broker.dispatched()} == {jobs.WORK_KINDS[kind]}
        await broker.drain_async([FakeTarget.queue])

    runs = ledger.executions()
    assert {r.key for r in runs if r.outcome == "ok"} == ledger.keys("confirmed")
    assert len(ledger.keys("confirmed")) == 40
    outcomes = Counter((r.attempt, r.outcome) for r in runs)
    assert outcomes == {(1, "ok"): 36, (1, "failed"): 4, (2, "ok"): 4}
