from __future__ import annotations

import pytest
from pydantic import ValidationError

from brokerjobs import Job, JobContext, JobOptions, registry
from brokerjobs.errors import UnknownJobError
from tests.unit.jobs_for_tests import BaseReport, MonthlyReport, ResizeImage, SendWelcomeEmail


def test_name_defaults_to_module_and_class() -> None:
    assert SendWelcomeEmail.job_name == "tests.unit.jobs_for_tests.SendWelcomeEmail"
    assert registry.get(SendWelcomeEmail.job_name) is SendWelcomeEmail


def test_explicit_name_and_options() -> None:
    assert ResizeImage.job_name == "images.resize"
    assert ResizeImage.job_options.time_limit == 30.0
    assert ResizeImage.job_options.queue == "default"
    assert SendWelcomeEmail.job_options.max_attempts == 3


def test_options_are_inherited_and_abstract_bases_are_not_registered() -> None:
    assert BaseReport.job_name == ""
    assert "tests.unit.jobs_for_tests.BaseReport" not in registry
    assert MonthlyReport.job_options.queue == "reports"
    assert MonthlyReport.job_options.max_attempts == 7


def test_invalid_payload_fails_at_construction_with_pydantic_message() -> None:
    with pytest.raises(ValidationError, match="user_id"):
        SendWelcomeEmail(user_id="not a number")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        SendWelcomeEmail(user_id=1, extra=2)  # type: ignore[call-arg]


def test_two_classes_under_one_name_is_an_error() -> None:
    with pytest.raises(TypeError, match="already used by"):

        class Impostor(Job, name="images.resize"):
            def run(self, ctx: JobContext) -> None:
                return None


def test_redefining_the_same_class_replaces_it() -> None:
    def define() -> type[Job]:
        class Local(Job):
            def run(self, ctx: JobContext) -> None:
                return None

        return Local

    first, second = define(), define()
    assert first.job_name == second.job_name
    assert registry.get(second.job_name) is second


def test_unknown_job_name_says_what_to_check() -> None:
    with pytest.raises(UnknownJobError, match="--app"):
        registry.get("no.such.Job")


def test_invalid_options_are_rejected_with_every_problem() -> None:
    with pytest.raises(ValueError, match=r"max_attempts must be >= 1.*time_limit must be > 0"):
        JobOptions(max_attempts=0, time_limit=-1)
    with pytest.raises(ValueError, match="max_attempts"):

        class Broken(Job, max_attempts=0):
            pass


def test_backoff_grows_exponentially_is_capped_and_jittered_downwards() -> None:
    options = JobOptions(backoff_base=1.0, backoff_cap=10.0, backoff_jitter=0.0)
    assert [options.backoff(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    jittered = JobOptions(backoff_base=4.0, backoff_cap=100.0, backoff_jitter=0.5)
    delays = [jittered.backoff(2) for _ in range(200)]
    assert all(4.0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 50
    assert JobOptions(backoff_jitter=0).backoff(10_000) == JobOptions().backoff_cap


def test_retry_on_selects_exceptions() -> None:
    options = JobOptions(retry_on=(ConnectionError,))
    assert options.retries(ConnectionResetError())
    assert not options.retries(ValueError())


def test_context_knows_its_last_attempt() -> None:
    from datetime import UTC, datetime

    ctx = JobContext("id", "job", "q", attempt=3, max_attempts=3, enqueued_at=datetime.now(UTC))
    assert ctx.is_last_attempt
