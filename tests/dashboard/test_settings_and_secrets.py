"""Where the dashboard may listen, what it shows of secrets, and what it says of workers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pydantic import SecretStr

from brokerjobs.backend import Backend
from brokerjobs.dashboard import DashboardSettings, check_bind
from brokerjobs.dashboard.bodies import body_view, reason_text
from brokerjobs.dashboard.settings import is_loopback
from brokerjobs.errors import ConfigurationError
from tests.dashboard.browser import free_port, wait_until_serving
from tests.dashboard.support import bearer, client, park
from tests.support.harness import BackendHarness

EXECUTABLE = Path(sys.executable).with_name("brokerjobs")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("dashboard.internal", False),
    ],
)
def test_only_loopback_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_public_address_needs_a_credential() -> None:
    with pytest.raises(ConfigurationError, match="without a credential"):
        check_bind("0.0.0.0", DashboardSettings())
    with pytest.raises(ConfigurationError):
        check_bind("0.0.0.0", DashboardSettings(username="ops"))  # no password: no credential
    check_bind("0.0.0.0", DashboardSettings(token=SecretStr("t" * 20)))
    check_bind("0.0.0.0", DashboardSettings(username="ops", password=SecretStr("pw-long")))
    check_bind("127.0.0.1", DashboardSettings())  # loopback: a one-off token is made up


def test_the_command_refuses_a_public_address_without_a_credential(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROKERJOBS_DASHBOARD_")} | {
        "BROKERJOBS_SQLITE_PATH": str(tmp_path / "jobs.db")
    }
    done = subprocess.run(
        [str(EXECUTABLE), "dashboard", "--backend", "sqlite", "--host", "0.0.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to serve the dashboard on '0.0.0.0' without a credential" in done.stderr
    assert "Traceback" not in done.stderr


def test_secrets_in_bodies_and_reasons_are_masked() -> None:
    body = b'{"job": "x", "payload": {"url": "amqp://app:hunter2-secret@mq:5672/"}}'
    view = body_view(body, 64 * 1024)
    assert "hunter2-secret" not in view.text and "amqp://app:***@mq" in view.text
    reason = reason_text("ConnectionError: postgresql://u:pa55word@db/x password=topsecret1")
    assert "pa55word" not in reason and "topsecret1" not in reason


async def test_the_backend_url_is_shown_redacted(
    api_harness: BackendHarness, api_backend: Backend
) -> None:
    queue = api_harness.queue("redact")
    await park(api_backend, queue, [b"x"], reason="Error: amqp://user:s3cret-pw@host/ failed")
    http, dashboard = client(api_backend, [queue])
    async with http:
        page = await http.get("/queues", headers=bearer())
        letters = await http.get(f"/queues/{queue}/dead-letters", headers=bearer())
    assert dashboard.backend_description.startswith(api_backend.name)
    for text in (page.text, letters.text):
        assert "s3cret-pw" not in text
        if api_harness.name == "rabbitmq":  # its URL carries guest's password
            assert "guest:***@" in text and "guest:guest@" not in text


async def test_workers_page_shows_consumers_where_the_backend_tells(
    api_harness: BackendHarness, api_backend: Backend
) -> None:
    queue = api_harness.queue("workers")
    await api_backend.declare(queue)
    consumer = await api_harness.new_backend()
    subscription = await consumer.consume([queue], prefetch=1)
    http, _ = client(api_backend, [queue])
    try:
        async with http:
            stats = (await http.get("/api/queues", headers=bearer())).json()["queues"][0]
            page = await http.get("/workers", headers=bearer())
    finally:
        await subscription.stop()
    if api_harness.name == "rabbitmq":
        assert stats["consumers"] == 1 and '<td class="num consumers">1</td>' in page.text
    else:
        assert stats["consumers"] is None and ">unknown</td>" in page.text


def test_on_loopback_without_a_credential_a_one_off_token_is_printed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROKERJOBS_DASHBOARD_")} | {
        "BROKERJOBS_SQLITE_PATH": str(tmp_path / "jobs.db")
    }
    port = free_port()
    process = subprocess.Popen(
        [str(EXECUTABLE), "dashboard", "--backend", "sqlite", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.fullmatch(
            rf"dashboard: (http://127\.0\.0\.1:{port}/login\?token=\S{{20,}})\n", line
        )
        assert match, line
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base + "/static/dashboard.css", process)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + "/api/queues", timeout=10)
        assert refused.value.code == 401
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(match.group(1), timeout=30) as logged_in:  # follows to /queues
            assert logged_in.status == 200 and logged_in.url == base + "/queues"
    finally:
        process.terminate()
        process.wait(15)
