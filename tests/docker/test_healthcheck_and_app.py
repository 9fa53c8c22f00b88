"""The image's health check script and the example app the compose stack runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from brokerjobs.testing import fake_broker
from examples.quickstart.jobs import ResizeImage, SendWelcomeEmail
from examples.quickstart.producer import dispatch_round

ROOT = Path(__file__).resolve().parents[2]
HEALTHCHECK = ROOT / "docker" / "healthcheck.py"
PRODUCER = [sys.executable, "-m", "examples.quickstart.producer"]


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def health_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _check(port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BROKERJOBS_METRICS_PORT": str(port)}
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK)], capture_output=True, text=True, env=env, timeout=30
    )


def test_healthy_when_healthz_answers_200(health_server: HTTPServer) -> None:
    _Health.status = 200
    assert _check(health_server.server_address[1]).returncode == 0


def test_unhealthy_when_healthz_answers_503(health_server: HTTPServer) -> None:
    _Health.status = 503
    try:
        result = _check(health_server.server_address[1])
    finally:
        _Health.status = 200
    assert result.returncode == 1
    assert "/healthz" in result.stderr


def test_unhealthy_when_nothing_listens() -> None:
    with HTTPServer(("127.0.0.1", 0), _Health) as server:
        port = server.server_address[1]  # bound, then closed: nothing listens there now
    result = _check(port)
    assert result.returncode == 1
    assert "unhealthy" in result.stderr


def test_producer_rounds_dispatch_jobs_that_the_worker_runs() -> None:
    with fake_broker() as broker:
        ids = dispatch_round(3, ["memory"])  # round 3: the resize job is flaky
        assert len(ids) == 2
        assert broker.dispatched(SendWelcomeEmail) == [SendWelcomeEmail(user_id=3)]
        assert broker.dispatched(ResizeImage) == [ResizeImage(image_id=3, flaky=True)]
        result = broker.drain()
    assert result.succeeded == 2
    assert result.retried == 1


def test_producer_command_runs_and_stops_after_count(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [*PRODUCER, "--backends", "memory", "--count", "2", "--interval", "0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "round 2: dispatched 2 jobs to memory" in result.stderr


def test_producer_traces_each_round_as_a_signup_with_send_spans(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(PYTHONPATH=str(ROOT), OTEL_TRACES_EXPORTER="console", OTEL_SERVICE_NAME="producer")
    result = subprocess.run(
        [*PRODUCER, "--backends", "memory", "--count", "1", "--interval", "0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    spans = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    [signup] = [span for span in spans if span["name"] == "signup"]
    sends = [span for span in spans if span["kind"] == "SpanKind.PRODUCER"]
    assert sorted(span["name"] for span in sends) == ["send default", "send emails"]
    assert {span["parent_id"] for span in sends} == {signup["context"]["span_id"]}
    assert signup["resource"]["attributes"]["service.name"] == "producer"
