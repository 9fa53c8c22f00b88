"""Reading the query parameters and JSON bodies pages and API calls share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from brokerjobs.dashboard.service import LetterFilter

MAX_IDS = 1000
"""Message ids one replay request may name."""


class BadRequest(Exception):
    """A request the dashboard refuses with 400 and this message."""


def page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    try:
        number = int(raw)
    except ValueError:
        raise BadRequest("page must be a whole number") from None
    if not 1 <= number <= 100_000:
        raise BadRequest("page must be between 1 and 100000")
    return number


def letter_filter(request: Request) -> LetterFilter:
    params = request.query_params
    since_raw = (params.get("since") or "").strip()
    since = None
    if since_raw:
        try:
            since = datetime.fromisoformat(since_raw)
        except ValueError:
            raise BadRequest("since must be a date and time like 2026-12-04T10:00") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
    return LetterFilter(
        job=(params.get("job") or "").strip() or None,
        reason=(params.get("reason") or "").strip() or None,
        since=since,
    )


async def json_object(request: Request) -> dict[str, Any]:
    try:
        document = await request.json()
    except ValueError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(document, dict):
        raise BadRequest("the body must be a JSON object")
    return document


def replay_choice(document: dict[str, Any]) -> tuple[list[str], str | None]:
    """``{"ids": [...]}`` or ``{"all": true, "job": optional}`` → (ids, job)."""
    ids = document.get("ids")
    if ids is not None:
        if (
            not isinstance(ids, list)
            or not ids
            or len(ids) > MAX_IDS
            or not all(isinstance(i, str) and i for i in ids)
        ):
            raise BadRequest(f"ids must be a list of 1 to {MAX_IDS} message ids")
        return list(dict.fromkeys(ids)), None
    if document.get("all") is not True:
        raise BadRequest('name the letters: {"ids": [...]} or {"all": true}')
    job = document.get("job")
    if job is not None and (not isinstance(job, str) or not job.strip()):
        raise BadRequest("job must be a job name")
    return [], job.strip() if isinstance(job, str) else None
