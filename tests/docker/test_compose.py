"""docker/compose.yaml is a valid Compose file and its services are wired together.

No Docker engine runs here, so the file is checked statically: against the Compose
Specification with the ``compose-spec`` package (a strict parser of the specification:
unknown keys, wrong types and bad durations are errors), and for the wiring this project
depends on (backend settings, OTEL_* variables, dependencies, the app module).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from brokerjobs.discovery import installed_backends

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
WORKERS = {"worker-rabbitmq": "rabbitmq", "worker-sqs": "sqs", "worker-postgres": "postgres"}


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return data


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def _parser() -> Any:
    # A dev dependency (compose-spec); until the environment has it, say so instead of failing.
    return pytest.importorskip("compose_spec", reason="the compose-spec dev dependency is missing")


def test_the_compose_file_follows_the_compose_specification() -> None:
    parser = _parser()
    PyCompose, PyOptions = parser.PyCompose, parser.PyOptions
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    resolved = PyCompose.from_json(json.dumps(_compose()))  # merge keys resolved by PyYAML
    resolved.validate()
    merged = PyOptions(apply_merge=True).from_yaml(text)  # and by the parser itself
    merged.validate()
    assert set(resolved.service_names()) == set(merged.service_names()) == set(_services())


@pytest.mark.parametrize(
    ("mistake", "fragment"),
    [
        (lambda s: s.replace("image: postgres:16", "imag: postgres:16"), "imag"),
        (lambda s: s.replace("condition: service_healthy", "condition: healthy", 1), "healthy"),
        (lambda s: s.replace("interval: 10s", "interval: often"), "often"),
    ],
)
def test_the_validator_rejects_a_broken_copy(mistake: Any, fragment: str) -> None:
    parser = _parser()
    broken = mistake(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert broken != COMPOSE_FILE.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match=fragment):
        parser.PyOptions(apply_merge=True).from_yaml(broken).validate()


def test_the_stack_has_brokers_a_worker_per_backend_a_producer_and_a_trace_viewer() -> None:
    services = _services()
    assert "management" in services["rabbitmq"]["image"]
    assert "elasticmq" in services["elasticmq"]["image"]
    assert services["jaeger"]["image"].startswith("jaegertracing/")
    assert set(WORKERS) | {"producer"} <= set(services)
    installed = installed_backends()
    for name, backend in WORKERS.items():
        command = services[name]["command"]
        assert _option(command, "--backend") == backend
        assert backend in installed
        assert _option(command, "--metrics-port") == "9464"
    producer_backends = _option(services["producer"]["command"], "--backends").split(",")
    assert sorted(producer_backends) == sorted(WORKERS.values())


def test_dependencies_name_real_services() -> None:
    services = _services()
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"


def test_app_services_build_this_repository_and_load_the_example_app() -> None:
    for name in [*WORKERS, "producer"]:
        build = _services()[name]["build"]
        context = (COMPOSE_FILE.parent / build["context"]).resolve()
        assert context == ROOT
        assert (context / build["dockerfile"]).is_file()
    for name in WORKERS:
        module = _option(_services()[name]["command"], "--app")
        importlib.import_module(module)
    producer = _services()["producer"]["entrypoint"]
    assert producer[:2] == ["python", "-m"]
    importlib.import_module(producer[2])


def test_every_app_service_sends_traces_to_jaeger() -> None:
    jaeger_ports = {"4318"}  # OTLP over HTTP, which the image's exporter speaks
    for name in [*WORKERS, "producer"]:
        environment = _services()[name]["environment"]
        assert environment["OTEL_TRACES_EXPORTER"] == "otlp"
        assert environment["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        endpoint = environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert endpoint.startswith("http://jaeger:") and endpoint.rsplit(":", 1)[1] in jaeger_ports
        assert environment["OTEL_SERVICE_NAME"] == name


def test_backend_settings_reach_the_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    """The BROKERJOBS_* names in the compose file are the ones the backends read."""
    environment = _services()["worker-rabbitmq"]["environment"]
    for key, value in environment.items():
        monkeypatch.setenv(key, str(value))
    from brokerjobs_rabbitmq.settings import RabbitMQSettings
    from brokerjobs_sqs.settings import SQSSettings

    from brokerjobs.discovery import backend_class

    rabbitmq = RabbitMQSettings()
    assert rabbitmq.safe_url == "amqp://brokerjobs:******@rabbitmq:5672/"
    assert SQSSettings().endpoint_url == "http://elasticmq:9324"
    postgres = backend_class("postgres")()
    assert getattr(postgres, "url", None) == environment["BROKERJOBS_POSTGRES_URL"]
    credentials = _services()["rabbitmq"]["environment"]
    assert rabbitmq.password == credentials["RABBITMQ_DEFAULT_PASS"]
