"""The HTML pages: queues, dead letters of a queue, one dead letter, workers, login.

Pages are rendered on the server (Jinja2, autoescaped) so the first view needs no
script; ``static/dashboard.js`` only adds the confirmations and the POSTs of replay
and purge. Lists are paged (``?page=N``) so 10,000 dead letters or 50 queues render
as one page of rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from brokerjobs import dead_letter_ops as ops
from brokerjobs.dashboard.api import dashboard_of, known_queue
from brokerjobs.dashboard.bodies import body_view, headline, reason_text
from brokerjobs.dashboard.history import sparkline
from brokerjobs.dashboard.requests import letter_filter, page_number
from brokerjobs.dashboard.sections import sections_of
from brokerjobs.dashboard.security import COOKIE, cross_origin

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
templates.env.globals.update(display_name=ops.display_name, headline=headline)


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    dashboard = dashboard_of(request)
    context.update(
        sections=sections_of(request.app),
        backend=dashboard.backend_description,
        read_only=dashboard.settings.read_only,
        csrf_token=getattr(request.state, "csrf_token", ""),
        sample_interval=dashboard.settings.sample_interval,
    )
    return templates.TemplateResponse(request, name, context, status_code=status)


def page_link(number: int) -> str:
    return f"?page={number}"


async def home(request: Request) -> Response:
    return RedirectResponse("/queues", 303)


async def queues(request: Request) -> Response:
    dashboard = dashboard_of(request)
    page = await dashboard.queue_page(page_number(request))
    charts = {}
    for stats in page.rows:
        samples = dashboard.history.samples(stats.queue)
        charts[stats.queue] = {
            "ready": sparkline([s.stats.ready for s in samples]),
            "dead": sparkline([s.stats.dead for s in samples]),
            "dead_per_minute": dashboard.history.dead_per_minute(stats.queue),
        }
    return render(
        request,
        "queues.html",
        page=page,
        charts=charts,
        undeclared=dashboard.undeclared,
        link=page_link,
        section="queues",
    )


async def dead_letters(request: Request) -> Response:
    queue = known_queue(request)
    dashboard = dashboard_of(request)
    where = letter_filter(request)
    page = await dashboard.letter_page(queue, page_number(request), where)
    stats = await dashboard.queue_stats(queue)
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return render(
        request,
        "dead_letters.html",
        queue=queue,
        page=page,
        stats=stats,
        where=where,
        query=query,
        link=lambda n: "?" + urlencode({**query, "page": n}),
        job_of=ops.job_of,
        reason_text=reason_text,
        section="queues",
    )


async def dead_letter(request: Request) -> Response:
    queue = known_queue(request)
    dashboard = dashboard_of(request)
    message_id = str(request.path_params["message_id"])
    dead = await dashboard.find_letter(queue, message_id)
    if dead is None:
        return render(
            request,
            "error.html",
            404,
            message=f"No dead letter {message_id} in {queue} (replayed or purged?).",
            section="queues",
        )
    return render(
        request,
        "dead_letter.html",
        queue=queue,
        dead=dead,
        job=ops.job_of(dead),
        reason=reason_text(dead.reason),
        body=body_view(dead.body, dashboard.settings.body_limit),
        section="queues",
    )


async def workers(request: Request) -> Response:
    dashboard = dashboard_of(request)
    page = await dashboard.queue_page(page_number(request))
    return render(
        request,
        "workers.html",
        page=page,
        undeclared=dashboard.undeclared,
        link=page_link,
        section="workers",
    )


async def login(request: Request) -> Response:
    guard = request.app.state.guard
    token = request.query_params.get("token")
    if request.method == "POST":
        if cross_origin(request):  # no logging a victim's browser into our session
            return Response("cross-origin request refused", 403)
        # A one-field urlencoded form: parsed here, no multipart parser needed.
        fields = parse_qs((await request.body())[:4096].decode(errors="replace"))
        token = fields.get("token", [""])[0]
    if token is not None:
        if guard.token_matches(token):
            response = RedirectResponse("/queues", 303)
            response.set_cookie(COOKIE, guard.open_session(), httponly=True, samesite="strict")
            return response
        return templates.TemplateResponse(
            request, "login.html", {"failed": True, "sections": []}, status_code=401
        )
    return templates.TemplateResponse(request, "login.html", {"failed": False, "sections": []})


routes = [
    Route("/", home),
    Route("/queues", queues),
    Route("/queues/{queue}/dead-letters", dead_letters),
    Route("/queues/{queue}/dead-letters/{message_id}", dead_letter),
    Route("/workers", workers),
    Route("/login", login, methods=["GET", "POST"]),
]
