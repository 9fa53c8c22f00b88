"""Redis backend settings: URL schemes, TLS verified by default, secrets never shown."""

from __future__ import annotations

import pytest
from brokerjobs_redis import RedisBackend, RedisSettings
from brokerjobs_redis.settings import load_settings

from brokerjobs.discovery import get_backend
from brokerjobs.errors import ConfigurationError


def test_defaults_point_at_the_local_server() -> None:
    settings = RedisSettings()
    assert settings.url.get_secret_value() == "redis://127.0.0.1:6379/0"
    assert not settings.uses_tls
    assert "ssl_cert_reqs" not in settings.client_options()


def test_rediss_verifies_certificate_and_host_name_unless_turned_off() -> None:
    verified = RedisSettings(url="rediss://cache.example:6380/0", tls_ca_file="/ca.pem")
    options = verified.client_options()
    assert options["ssl_cert_reqs"] == "required" and options["ssl_check_hostname"] is True
    assert options["ssl_ca_certs"] == "/ca.pem"
    unverified = RedisSettings(url="rediss://cache.example:6380/0", tls_verify=False)
    assert unverified.client_options()["ssl_cert_reqs"] == "none"
    assert unverified.client_options()["ssl_check_hostname"] is False


def test_environment_configures_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKERJOBS_REDIS_URL", "redis://:hunter2hunter2@10.0.0.5:6390/3")
    monkeypatch.setenv("BROKERJOBS_REDIS_LEASE", "45")
    backend = RedisBackend.from_options(prefix="svc:")
    assert backend.lease == 45.0 and backend.settings.prefix == "svc:"
    assert "hunter2hunter2" not in repr(backend)
    assert "hunter2hunter2" not in repr(backend.settings)
    assert "10.0.0.5:6390" in backend.settings.safe_url


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"url": "amqp://localhost"}, "redis://, rediss:// or redis+sentinel://"),
        ({"prefix": "a{b"}, "hash tags"),
        ({"lease": 0}, "lease"),
    ],
)
def test_invalid_settings_raise_configuration_error_without_the_values(
    options: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ConfigurationError, match="invalid Redis backend settings") as caught:
        load_settings(**options)
    assert complaint in str(caught.value)


def test_bad_url_error_does_not_echo_the_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(url="http://user:s3cretpassw0rd@host/")
    assert "s3cretpassw0rd" not in str(caught.value)


def test_the_entry_point_finds_the_backend() -> None:
    backend = get_backend("redis")
    assert isinstance(backend, RedisBackend)
    backend.close()


def test_cluster_errors_are_translated_and_wait_is_refused_on_a_cluster() -> None:
    import redis.exceptions as rex
    from brokerjobs_redis.translate import translate

    from brokerjobs.errors import BrokerUnavailableError

    settings = RedisSettings(url="redis://:pw-cluster-pw@10.1.1.1:7000/0", cluster=True)
    error = translate(rex.RedisClusterException("pw-cluster-pw unreachable"), settings, "x")
    assert isinstance(error, BrokerUnavailableError)
    assert "pw-cluster-pw" not in str(error)
    with pytest.raises(ConfigurationError, match="not supported with cluster"):
        load_settings(cluster=True, replicas=1)


def test_sentinel_urls_name_the_sentinels_the_service_and_the_database() -> None:
    settings = RedisSettings(url="redis+sentinel://:s3nt-pw@10.0.0.1:26379,10.0.0.2/jobs/2")
    target = settings.sentinel
    assert target is not None
    assert target.sentinels == [("10.0.0.1", 26379), ("10.0.0.2", 26379)]
    assert (target.service, target.db, target.password) == ("jobs", 2, "s3nt-pw")
    assert "s3nt-pw" not in settings.safe_url and "10.0.0.2" in settings.safe_url
    assert RedisSettings(url="rediss+sentinel://h:26379/jobs").uses_tls
    with pytest.raises(ConfigurationError, match="names the sentinels and the service"):
        load_settings(url="redis+sentinel://10.0.0.1:26379")
