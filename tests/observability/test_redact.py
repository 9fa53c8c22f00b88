"""The redaction helper masks URL passwords, AWS keys, registered and sensitive values."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from brokerjobs import Job, JobContext
from brokerjobs.telemetry.redact import (
    Sensitive,
    environment_secrets,
    forget_secrets,
    redact,
    redacted_payload,
    register_environment_secrets,
    sensitive_values,
)

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "cannot connect to amqp://jobs:hunter22@10.0.0.5:5672/prod",
            "cannot connect to amqp://jobs:***@10.0.0.5:5672/prod",
        ),
        ("postgresql://u:p%40ss@db/x", "postgresql://u:***@db/x"),
        ("key AKIAIOSFODNN7EXAMPLE used", "key *** used"),
        ("aws_secret_access_key=abc123def456", "aws_secret_access_key=***"),
        ('{"password": "letmein!"}', '{"password": "***"}'),
        ("http://example.com:8080/path is fine", "http://example.com:8080/path is fine"),
        ("nothing to hide", "nothing to hide"),
    ],
)
def test_patterns(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_registered_environment_secrets_are_masked_anywhere() -> None:
    environ = {
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "BROKERJOBS_RABBITMQ_URL": "amqp://jobs:s%3Acret-pw@rabbit/",
        "HOME": "/root",
    }
    assert environment_secrets(environ) == {SECRET_KEY, "s%3Acret-pw", "s:cret-pw"}
    register_environment_secrets(environ)
    text = f"signature mismatch for {SECRET_KEY}; pw s:cret-pw in /root"
    assert redact(text) == "signature mismatch for ***; pw *** in /root"


class Signup(Job, name="bjobs.signup"):
    email: str
    password: Sensitive
    token: SecretStr | None = None

    def run(self, ctx: JobContext) -> None:
        return None


def test_fields_a_job_marks_sensitive() -> None:
    job = Signup(email="a@example.com", password="correct-horse")
    assert sensitive_values(job) == ("correct-horse",)
    assert "correct-horse" not in repr(job)
    assert redacted_payload(job) == {"email": "a@example.com", "password": "***", "token": None}
    assert redact("bad password correct-horse", sensitive_values(job)) == "bad password ***"
