"""Dashboard settings (``BROKERJOBS_DASHBOARD_*``) and the rule about where it may listen.

A credential is always needed to see a page: a token, or a user name and password
(HTTP basic auth). On a loopback address with neither configured, the command makes up
a one-off token and prints the URL that logs in with it; on any other address it
refuses to start (:func:`check_bind`).
"""

from __future__ import annotations

import ipaddress
import secrets

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from brokerjobs.errors import ConfigurationError


class DashboardSettings(BaseSettings):
    """How the dashboard authenticates, what it allows and how it samples."""

    model_config = SettingsConfigDict(env_prefix="BROKERJOBS_DASHBOARD_", extra="ignore")

    token: SecretStr | None = Field(default=None, description="Bearer/login token.")
    username: str | None = Field(default=None, description="HTTP basic auth user name.")
    password: SecretStr | None = Field(default=None, description="HTTP basic auth password.")
    read_only: bool = Field(default=False, description="Refuse replay and purge.")
    sample_interval: float = Field(
        default=5.0, gt=0, description="Seconds between the queue samples the charts draw."
    )
    history_size: int = Field(default=120, ge=2, description="Samples kept per queue.")
    page_size: int = Field(default=50, ge=1, le=500, description="Rows per listed page.")
    body_limit: int = Field(
        default=64 * 1024, ge=256, description="Bytes of a dead letter's body shown at most."
    )

    @property
    def has_credential(self) -> bool:
        basic = bool(self.username) and self.password is not None
        return self.token is not None or basic

    def with_generated_token(self) -> DashboardSettings:
        """A copy with a fresh random token (for a loopback run with no credential)."""
        return self.model_copy(update={"token": SecretStr(secrets.token_urlsafe(24))})


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def check_bind(host: str, settings: DashboardSettings) -> None:
    """Refuse a non-loopback ``host`` unless a credential is configured."""
    if not is_loopback(host) and not settings.has_credential:
        raise ConfigurationError(
            f"refusing to serve the dashboard on {host!r} without a credential: set "
            "BROKERJOBS_DASHBOARD_TOKEN (or BROKERJOBS_DASHBOARD_USERNAME and "
            "BROKERJOBS_DASHBOARD_PASSWORD), or listen on 127.0.0.1"
        )
