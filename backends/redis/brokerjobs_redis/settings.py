"""Settings of the Redis backend, read from ``BROKERJOBS_REDIS_*`` environment variables.

The URL may carry a password, so it is kept as a :class:`~pydantic.SecretStr`: ``repr()``,
logs and error messages only ever show :attr:`RedisSettings.safe_url`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from brokerjobs.errors import ConfigurationError
from brokerjobs.telemetry.redact import redact

from .sentinel import SCHEMES, SentinelTarget, parse_sentinel_url


class RedisSettings(BaseSettings):
    """Every knob of the Redis backend. Environment: ``BROKERJOBS_REDIS_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="BROKERJOBS_REDIS_", extra="forbid")

    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    """``redis://`` or ``rediss://`` (TLS) URL: user, password, host, port and database."""
    prefix: str = "brokerjobs:"
    """Prepended to every key this backend creates (``<prefix>{<queue>}:stream``...)."""
    cluster: bool = False
    """Talk to a Redis Cluster (``url`` names any one node; the client finds the rest).
    Every key of a queue shares one hash slot, so the scripts work there unchanged."""
    group: str = "brokerjobs"
    """The consumer group every worker of a queue joins."""
    lease: float = Field(default=30.0, gt=0)
    """Seconds a delivery stays owned without a heartbeat; a crashed worker's messages
    are reclaimed by the others after it (XAUTOCLAIM min-idle-time)."""
    poll_interval: float = Field(default=0.5, gt=0)
    """Longest an idle consumer blocks in XREADGROUP before it moves due delayed
    messages and looks for stale deliveries again (the resolution of delays)."""
    delivery_limit: int = Field(default=20, ge=1)
    """Deliveries without a settlement (worker crashes) before the message is parked in
    the dead-letter stream by the reclaimer: the backend's own poison bound."""
    replicas: int = Field(default=0, ge=0)
    """If > 0, every publish waits (``WAIT``) until that many replicas acknowledged it."""
    replica_timeout: float = Field(default=2.0, gt=0)
    """Seconds a publish waits for :attr:`replicas` before it raises."""
    max_message_size: int = Field(default=1024 * 1024, ge=1024)
    """Largest body accepted at dispatch (Redis itself allows 512 MiB per value)."""
    socket_timeout: float = Field(default=10.0, gt=0)
    """Seconds any command may take before it raises (a publish never hangs)."""
    connect_timeout: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=64, ge=2)
    """Connections per pool (one pool per event loop, one for sync publishing); past it a
    command waits for a free one, up to ``socket_timeout``."""
    client_name: str = "brokerjobs"
    """Connection name shown by ``CLIENT LIST``."""
    warn_without_persistence: bool = True
    """Log a warning when a consumer starts on a server with neither AOF nor RDB."""
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    sentinel_password: SecretStr | None = None
    """Password of the sentinels themselves (``redis+sentinel://`` URLs), if they need one."""
    tls_verify: bool = True
    """Verify the server's certificate and host name (rediss). Turn off only for tests."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        scheme = raw.partition("://")[0]
        if scheme in SCHEMES:
            parse_sentinel_url(raw)  # raises ValueError with the expected format
            return value
        if scheme not in ("redis", "rediss"):
            raise ValueError(
                "the Redis URL must start with redis://, rediss:// or redis+sentinel://, "
                f"not {scheme}://"
            )
        return value

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if "{" in value or "}" in value:
            raise ValueError("the key prefix may not contain { or } (they mark hash tags)")
        return value

    @model_validator(mode="after")
    def _check_cluster(self) -> RedisSettings:
        if self.cluster and self.replicas:
            raise ValueError("replicas (WAIT) is not supported with cluster=true")
        if self.cluster and self.sentinel is not None:
            raise ValueError("a redis+sentinel:// URL cannot be used with cluster=true")
        return self

    @property
    def sentinel(self) -> SentinelTarget | None:
        """The parsed ``redis+sentinel://`` URL, or None for a direct URL."""
        raw = self.url.get_secret_value()
        return parse_sentinel_url(raw) if raw.partition("://")[0] in SCHEMES else None

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, for logs and error messages."""
        return self.scrub(self.url.get_secret_value())

    @property
    def uses_tls(self) -> bool:
        return self.url.get_secret_value().partition("://")[0] in ("rediss", "rediss+sentinel")

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.Redis.from_url`` (sync and asyncio alike)."""
        options: dict[str, Any] = {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.connect_timeout,
            "client_name": self.client_name,
            "health_check_interval": 15,
        }
        if self.uses_tls:
            options.update(
                ssl_cert_reqs="required" if self.tls_verify else "none",
                ssl_check_hostname=self.tls_verify,
                ssl_ca_certs=self.tls_ca_file,
                ssl_certfile=self.tls_cert_file,
                ssl_keyfile=self.tls_key_file,
            )
        return options

    def scrub(self, text: str) -> str:
        """``text`` with the URL's password (raw and percent-decoded) masked."""
        raw = self.url.get_secret_value()
        sentinel = raw.partition("://")[0] in SCHEMES
        password = (parse_sentinel_url(raw).password if sentinel else urlsplit(raw).password) or ""
        return redact(text, extra=[password, unquote(password)] if password else [])


def load_settings(**overrides: object) -> RedisSettings:
    """Settings from the environment, overridden by keyword arguments; errors are ours."""
    try:
        return RedisSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        # The input values are left out on purpose: one of them may be a URL with a password.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(
            f"invalid Redis backend settings ({problems}); "
            "set them as keyword options or BROKERJOBS_REDIS_* environment variables"
        ) from None
