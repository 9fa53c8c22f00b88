"""Settings of the RabbitMQ backend, read from ``BROKERJOBS_RABBITMQ_*`` environment variables.

The broker URL carries the password, so it is kept as a :class:`~pydantic.SecretStr`:
``repr()``, logs and error messages only ever show :attr:`RabbitMQSettings.safe_url`.
"""

from __future__ import annotations

import math
import re
import ssl
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from brokerjobs.errors import ConfigurationError

QueueType = Literal["quorum", "classic"]


class RabbitMQSettings(BaseSettings):
    """Every knob of the RabbitMQ backend. Environment: ``BROKERJOBS_RABBITMQ_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="BROKERJOBS_RABBITMQ_", extra="forbid")

    url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    """``amqp://`` or ``amqps://`` URL: user, password, host, port and virtual host."""
    prefix: str = "brokerjobs."
    """Prepended to every queue and exchange name this backend creates."""
    queue_type: QueueType = "quorum"
    """Work queues: ``quorum`` (poison-message bound, safe dead-lettering) or ``classic``."""
    wait_queue_type: QueueType = "quorum"
    """Delay/retry wait queues (26 per work queue). ``quorum`` dead-letters at least once
    (RabbitMQ 3.10+), so delayed and retried messages survive a broker restart; it costs
    about 1.6× the broker memory of ``classic`` (bench/rabbitmq_wait_queues.py).
    ``classic`` dead-letters at most once: a message expiring while the node shuts down
    is dropped. Use it only where losing a delayed job is acceptable."""
    delivery_limit: int = Field(default=20, ge=1)
    """Quorum queues: deliveries without a settlement (worker crashes) before the DLQ."""
    prefetch: int = Field(default=32, ge=1)
    """Default prefetch window when the caller does not give one."""
    publish_timeout: float = Field(default=10.0, gt=0)
    """Seconds a publish may wait for the broker's confirm (also under a memory alarm)."""
    connect_timeout: float = Field(default=10.0, gt=0)
    heartbeat: int = Field(default=30, ge=0)
    """AMQP heartbeat in seconds (0 disables it; not recommended)."""
    delay_unit: float = Field(default=0.25, gt=0)
    """Resolution of delays in seconds: a delay is rounded *up* to a multiple of it."""
    max_delay: float = Field(default=100 * 86400.0, gt=0)
    """Longest delay supported; fixes how many binary wait levels each queue gets."""
    consumer_timeout: float = Field(default=1800.0, gt=0)
    """The broker's delivery-acknowledgement timeout (``consumer_timeout`` in rabbitmq.conf)."""
    queue_consumer_timeout: float | None = Field(default=None, gt=0)
    """If set, declared as ``x-consumer-timeout`` on work queues (honoured by RabbitMQ ≥ 3.12)."""
    client_name: str = "brokerjobs"
    """Connection name shown by ``rabbitmqctl list_connections client_properties``."""
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_verify: bool = True
    """Verify the broker's certificate and host name (amqps). Turn off only for tests."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("amqp", "amqps"):
            raise ValueError(
                f"the RabbitMQ URL must start with amqp:// or amqps://, not {parts.scheme}://"
            )
        try:
            parts.port  # noqa: B018 - urllib parses the port lazily; this is the check
        except ValueError:
            raise ValueError(
                "the port in the RabbitMQ URL is not a number from 0 to 65535 "
                "(amqp://user:password@host:5672/vhost)"
            ) from None
        return value

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, for logs and error messages."""
        return redact_url(self.url.get_secret_value())

    @property
    def password(self) -> str:
        return unquote(urlsplit(self.url.get_secret_value()).password or "")

    @property
    def user(self) -> str:
        return unquote(urlsplit(self.url.get_secret_value()).username or "guest")

    @property
    def vhost(self) -> str:
        """The virtual host the URL names (``/`` when its path is empty, as AMQP URIs say)."""
        path = urlsplit(self.url.get_secret_value()).path
        return unquote(path[1:]) if len(path) > 1 else "/"

    @property
    def uses_tls(self) -> bool:
        return urlsplit(self.url.get_secret_value()).scheme == "amqps"

    @property
    def delay_levels(self) -> int:
        """How many binary wait levels cover :attr:`max_delay` at :attr:`delay_unit` resolution."""
        return max(1, math.ceil(math.log2(self.max_delay / self.delay_unit + 1)))

    @property
    def max_lease(self) -> float:
        """How long a delivery may stay unacked before the broker closes its channel."""
        timeout = self.queue_consumer_timeout or self.consumer_timeout
        return max(1.0, timeout - min(60.0, timeout * 0.1))

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for ``amqps://`` URLs (None for plain ``amqp://``)."""
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=self.tls_ca_file)
        if self.tls_cert_file:
            context.load_cert_chain(self.tls_cert_file, self.tls_key_file)
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def scrub(self, text: str) -> str:
        """``text`` with the password and the raw URL replaced by their masked forms."""
        raw = self.url.get_secret_value()
        text = text.replace(raw, self.safe_url)
        for secret in {self.password, urlsplit(raw).password or ""}:
            if secret:
                text = text.replace(secret, "******")
        return text


_PASSWORD = re.compile(r"(//[^:/@]*):[^@]*@")


def redact_url(url: str) -> str:
    """``url`` with the password (if any) replaced by ``******``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    try:
        port = parts.port
    except ValueError:  # not a number: mask the password without parsing the rest
        return _PASSWORD.sub(r"\g<1>:******@", url)
    user = parts.username or ""
    host = parts.hostname or ""
    if port is not None:
        host = f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=f"{user}:******@{host}"))


def load_settings(**overrides: object) -> RabbitMQSettings:
    """Settings from the environment, overridden by keyword arguments; errors are ours."""
    try:
        return RabbitMQSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        # The input values are left out on purpose: one of them may be a URL with a password.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(
            f"invalid RabbitMQ backend settings ({problems}); "
            "set them as keyword options or BROKERJOBS_RABBITMQ_* environment variables"
        ) from None
