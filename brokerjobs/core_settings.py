"""The :class:`Settings` model, kept apart so ``pydantic_settings`` loads only when needed.

``pydantic_settings`` (with its dotenv and CLI sources) costs more to import than the
rest of brokerjobs together; :mod:`brokerjobs.config` imports this module the first time
configuration is read, not when ``brokerjobs`` is imported.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from brokerjobs.config import DEFAULT_BACKEND


class Settings(BaseSettings):
    """Core settings. Each backend reads its own (``BROKERJOBS_RABBITMQ_URL``, ...)."""

    model_config = SettingsConfigDict(env_prefix="BROKERJOBS_", extra="ignore")

    backend: str = Field(
        default=DEFAULT_BACKEND,
        description="Backend used when dispatch/consume name none (entry-point name).",
    )
    store: str | None = Field(
        default=None,
        description="Coordination store: a URL or an installed store name (BROKERJOBS_STORE).",
    )
    max_message_size: int = Field(
        default=256 * 1024, gt=0, description="Largest encoded envelope dispatch accepts, bytes."
    )
    dispatch_retries: int = Field(
        default=3, ge=0, description="Times dispatch retries a transient broker error."
    )
    dispatch_retry_backoff: float = Field(
        default=0.2, ge=0, description="First wait between dispatch retries, doubled each time."
    )
