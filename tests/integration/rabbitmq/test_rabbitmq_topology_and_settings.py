"""Pure checks of names, delay routes, attempt headers and settings (no broker needed)."""

from __future__ import annotations

import ssl

import pytest
from brokerjobs_rabbitmq import RabbitMQBackend, RabbitMQSettings
from brokerjobs_rabbitmq import headers as hdr
from brokerjobs_rabbitmq.topology import BindExchange, BindQueue, DeclareQueue, Topology

from brokerjobs.errors import ConfigurationError, PublishRejectedError


def topology(**options: object) -> Topology:
    return Topology(RabbitMQSettings(**options))  # type: ignore[arg-type]


def test_names_are_prefixed_and_documented() -> None:
    names = topology(prefix="app.", max_delay=8.0, delay_unit=1.0).names("emails")
    assert names.work == "app.emails"
    assert names.dead == "app.emails.dead"
    assert names.waits == tuple(f"app.emails.wait.{n:02d}" for n in range(4))
    assert names.levels == tuple(f"app.emails.delay.{n:02d}" for n in range(4))


@pytest.mark.parametrize(
    ("delay", "exchange", "key"),
    [
        (0.0, "", "p.q"),
        (1.0, "p.q.delay.00", "0.0.0.1"),
        (5.0, "p.q.delay.02", "0.1.0.1"),
        (4.2, "p.q.delay.02", "0.1.0.1"),  # rounded up, never early
        (15.0, "p.q.delay.03", "1.1.1.1"),
    ],
)
def test_delay_routes_write_the_units_in_binary(delay: float, exchange: str, key: str) -> None:
    route = topology(prefix="p.", max_delay=15.0, delay_unit=1.0).route("q", delay)
    assert (route.exchange, route.routing_key) == (exchange, key)


def test_a_delay_beyond_max_delay_is_refused() -> None:
    with pytest.raises(PublishRejectedError, match="max_delay"):
        topology(max_delay=15.0, delay_unit=1.0).route("q", 16.0)


def test_wait_levels_chain_down_to_the_work_queue() -> None:
    ops = topology(prefix="p.", max_delay=3.0, delay_unit=0.5).declarations("q")
    waits = {op.name: op.arguments for op in ops if isinstance(op, DeclareQueue)}
    assert waits["p.q.wait.00"]["x-message-ttl"] == 500
    assert waits["p.q.wait.00"]["x-dead-letter-routing-key"] == "p.q"
    assert waits["p.q.wait.02"]["x-message-ttl"] == 2000
    assert waits["p.q.wait.02"]["x-dead-letter-exchange"] == "p.q.delay.01"
    assert waits["p.q"]["x-delivery-limit"] == 20
    assert waits["p.q"]["x-dead-letter-strategy"] == "at-least-once"
    assert waits["p.q.dead"] == {"x-queue-type": "classic"}
    assert BindQueue("p.q", "p.q.delay.00", "*.*.0") in ops
    assert BindExchange("p.q.delay.01", "p.q.delay.02", "0.*.*") in ops


def test_attempt_counts_our_header_and_crash_redeliveries() -> None:
    assert hdr.attempt(None, redelivered=False) == 1
    assert hdr.attempt({hdr.ATTEMPT: 3}, redelivered=False) == 3
    assert hdr.attempt({hdr.ATTEMPT: 3, "x-delivery-count": 2}, redelivered=True) == 5
    assert hdr.attempt({hdr.ATTEMPT: 3}, redelivered=True) == 4  # classic queue
    assert hdr.attempt({hdr.ATTEMPT: "junk"}, redelivered=False) == 1
    kept = hdr.with_attempt({"x-death": [], "x-delivery-count": 4, "trace": "t"}, 2)
    assert kept == {"trace": "t", hdr.ATTEMPT: 2}
    replayed = hdr.replay_headers({hdr.REASON: "boom", hdr.ATTEMPT: 5, "trace": "t"})
    assert replayed == {"trace": "t", hdr.ATTEMPT: 1}


def test_settings_hide_the_password_and_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKERJOBS_RABBITMQ_URL", "amqps://svc:s3cr%40t@rabbit.example:5671/prod")
    monkeypatch.setenv("BROKERJOBS_RABBITMQ_PREFETCH", "64")
    backend = RabbitMQBackend.from_options(queue_type="classic")
    assert backend.settings.prefetch == 64
    assert backend.settings.queue_type == "classic"
    assert backend.settings.safe_url == "amqps://svc:******@rabbit.example:5671/prod"
    for text in (repr(backend), repr(backend.settings), str(backend.settings)):
        assert "s3cr" not in text
    assert backend.settings.scrub("failed for s3cr@t at amqps://svc:s3cr%40t@x").count("s3cr") == 0
    context = backend.settings.ssl_context()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ConfigurationError, match="queue_type") as invalid:
        RabbitMQBackend.from_options(queue_type="stream")
    assert "s3cr" not in str(invalid.value)


def test_max_lease_follows_the_consumer_timeout() -> None:
    assert RabbitMQBackend.from_options().max_lease == pytest.approx(1740.0)
    assert RabbitMQBackend.from_options(queue_consumer_timeout=7200).max_lease == 7140.0
