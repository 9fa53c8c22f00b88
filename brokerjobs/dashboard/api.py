"""The JSON API the pages use (and scripts may): ``/api/...``.

Reads: the queues, a page of dead letters, one letter. Writes (POST, CSRF token in
``X-CSRF-Token``, refused in read-only mode): replay and purge. Purge wants the queue's
name typed back as ``{"confirm": "<queue>"}``, like the page's confirmation box.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from brokerjobs import dead_letter_ops as ops
from brokerjobs.backend import DeadLetter
from brokerjobs.dashboard.bodies import body_view, headline, reason_text
from brokerjobs.dashboard.requests import (
    BadRequest,
    json_object,
    letter_filter,
    page_number,
    replay_choice,
)
from brokerjobs.dashboard.service import Dashboard


def dashboard_of(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


def known_queue(request: Request) -> str:
    queue = str(request.path_params["queue"])
    if queue not in dashboard_of(request).queues:
        raise BadRequest(f"queue {queue!r} is not shown by this dashboard (see --queue)")
    return queue


def letter_summary(dead: DeadLetter) -> dict[str, Any]:
    return {
        "message_id": dead.message_id,
        "job": ops.job_of(dead),
        "attempt": dead.attempt,
        "dead_lettered_at": dead.dead_lettered_at.isoformat() if dead.dead_lettered_at else None,
        "reason": headline(reason_text(dead.reason)),
    }


async def session(request: Request) -> JSONResponse:
    dashboard = dashboard_of(request)
    return JSONResponse(
        {"csrf_token": request.state.csrf_token, "read_only": dashboard.settings.read_only}
    )


async def queues(request: Request) -> JSONResponse:
    dashboard = dashboard_of(request)
    page = await dashboard.queue_page(page_number(request))
    rows = []
    for stats in page.rows:
        row = asdict(stats)
        row["dead_per_minute"] = dashboard.history.dead_per_minute(stats.queue)
        rows.append(row)
    return JSONResponse(
        {"queues": rows, "page": page.number, "has_next": page.has_next, "total": page.total}
    )


async def dead_letters(request: Request) -> JSONResponse:
    queue = known_queue(request)
    page = await dashboard_of(request).letter_page(
        queue, page_number(request), letter_filter(request)
    )
    return JSONResponse(
        {
            "queue": queue,
            "dead_letters": [letter_summary(d) for d in page.rows],
            "page": page.number,
            "has_next": page.has_next,
            "matched": page.total,
        }
    )


async def dead_letter(request: Request) -> JSONResponse:
    queue = known_queue(request)
    dashboard = dashboard_of(request)
    dead = await dashboard.find_letter(queue, str(request.path_params["message_id"]))
    if dead is None:
        return JSONResponse({"error": "no such dead letter (replayed or purged?)"}, 404)
    view = body_view(dead.body, dashboard.settings.body_limit)
    return JSONResponse(
        {
            **letter_summary(dead),
            "reason": reason_text(dead.reason),
            "body": {
                "kind": view.kind,
                "text": view.text,
                "size": view.size,
                "truncated": view.truncated,
            },
        }
    )


async def replay(request: Request) -> JSONResponse:
    queue = known_queue(request)
    ids, job = replay_choice(await json_object(request))
    moved = await dashboard_of(request).replay(queue, ids=ids, job=job)
    return JSONResponse({"queue": queue, "replayed": moved})


async def purge(request: Request) -> JSONResponse:
    queue = known_queue(request)
    document = await json_object(request)
    if document.get("confirm") != queue:
        raise BadRequest(f'type the queue name to confirm: {{"confirm": "{queue}"}}')
    deleted = await dashboard_of(request).purge(queue)
    return JSONResponse({"queue": queue, "deleted": deleted})


WRITES = frozenset({"/replay", "/purge"})
"""Path endings of the state-changing endpoints (refused in read-only mode)."""

routes = [
    Route("/api/session", session),
    Route("/api/queues", queues),
    Route("/api/queues/{queue}/dead-letters", dead_letters),
    Route("/api/queues/{queue}/dead-letters/replay", replay, methods=["POST"]),
    Route("/api/queues/{queue}/dead-letters/purge", purge, methods=["POST"]),
    Route("/api/queues/{queue}/dead-letters/{message_id}", dead_letter),
]
