"""Helpers of the dashboard tests: dead letters made through the contract, an API client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from pydantic import JsonValue

from brokerjobs.backend import Backend, OutgoingMessage
from brokerjobs.dashboard import Dashboard, DashboardSettings, create_app
from brokerjobs.envelope import Envelope, encode, new_message_id

TOKEN = "test-token-0123456789"


def envelope(job: str, payload: dict[str, JsonValue], queue: str) -> bytes:
    """The envelope dispatch would write for ``job`` (one attempt allowed)."""
    return encode(
        Envelope(
            id=new_message_id(),
            job=job,
            queue=queue,
            payload=payload,
            max_attempts=1,
            created_at=datetime.now(UTC),
        )
    )


async def park(
    backend: Backend, queue: str, bodies: Sequence[bytes], reason: str = "RuntimeError: boom"
) -> list[str]:
    """Publish ``bodies`` to ``queue`` and dead-letter each one; returns their message ids."""
    await backend.declare(queue)
    ids = [uuid.uuid4().hex for _ in bodies]
    for message_id, body in zip(ids, bodies, strict=True):
        await backend.publish(queue, OutgoingMessage(body=body, message_id=message_id))
    subscription = await backend.consume([queue], prefetch=10)
    try:
        for _ in ids:
            delivery = await asyncio.wait_for(anext(subscription), 30)
            await backend.dead_letter(delivery, reason=f"{reason} ({delivery.message_id})")
    finally:
        await subscription.stop()
    return ids


def client(
    backend: Backend, queues: Sequence[str], **settings: object
) -> tuple[httpx.AsyncClient, Dashboard]:
    """An HTTP client on an in-process dashboard (no lifespan: no background sampler)."""
    options: dict[str, object] = {"token": TOKEN, **settings}
    dashboard = Dashboard(backend, queues, DashboardSettings.model_validate(options))
    app = create_app(dashboard, sample=False)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765"), dashboard


async def csrf_of(http: httpx.AsyncClient) -> str:
    response = await http.get("/api/session", headers=bearer())
    assert response.status_code == 200
    token: str = response.json()["csrf_token"]
    return token


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
