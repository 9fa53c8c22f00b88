"""The Starlette application: routes, the guard in front of every one, error pages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from brokerjobs.dashboard import api, pages
from brokerjobs.dashboard.requests import BadRequest
from brokerjobs.dashboard.sections import DEFAULT_SECTIONS, Section
from brokerjobs.dashboard.security import UNSAFE_METHODS, Guard, is_open_path
from brokerjobs.dashboard.service import Dashboard
from brokerjobs.errors import BrokerJobsError
from brokerjobs.telemetry.redact import redact

SECURITY_HEADERS = {
    # No inline script or style anywhere: a body that slipped past escaping still cannot run.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # same-origin POSTs keep a real Origin header
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


class GuardMiddleware(BaseHTTPMiddleware):
    """Authentication, CSRF and read-only checks for every route (see security.py)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await self._checked(request, call_next)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def _checked(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        guard: Guard = request.app.state.guard
        if is_open_path(request.url.path):
            return await call_next(request)
        session = guard.session_of(request)
        if session is None:
            return self._unauthenticated(request, guard)
        request.state.csrf_token = guard.csrf_token(session)
        if request.method in UNSAFE_METHODS:
            problem = guard.csrf_problem(request, session)
            if problem is not None:
                return JSONResponse({"error": problem}, 403)
            if guard.settings.read_only:
                return JSONResponse({"error": "the dashboard is read-only"}, 403)
        return await call_next(request)

    def _unauthenticated(self, request: Request, guard: Guard) -> Response:
        basic_only = guard.settings.token is None
        challenge = 'Basic realm="brokerjobs"' if basic_only else "Bearer"
        if wants_json(request) or basic_only:
            return JSONResponse(
                {"error": "authentication required"}, 401, {"www-authenticate": challenge}
            )
        return RedirectResponse("/login", 303)


async def bad_request(request: Request, exc: Exception) -> Response:
    return problem(request, str(exc), 400)


async def backend_failed(request: Request, exc: Exception) -> Response:
    return problem(request, f"the backend failed: {redact(str(exc))}", 503)


def problem(request: Request, message: str, status: int) -> Response:
    if wants_json(request):
        return JSONResponse({"error": message}, status)
    return pages.render(request, "error.html", status, message=message, section="")


def create_app(
    dashboard: Dashboard,
    *,
    sections: Sequence[Section] = DEFAULT_SECTIONS,
    sample: bool = True,
) -> Starlette:
    """The dashboard app for ``dashboard``; ``sample`` runs the background sampler."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sampler = asyncio.create_task(dashboard.sample_forever()) if sample else None
        try:
            yield
        finally:
            if sampler is not None:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
            await dashboard.close()

    routes: list[BaseRoute] = [
        *api.routes,
        *pages.routes,
        *(route for section in sections for route in section.routes),
        Mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(GuardMiddleware)],
        exception_handlers={BadRequest: bad_request, BrokerJobsError: backend_failed},
        lifespan=lifespan,
    )
    app.state.dashboard = dashboard
    app.state.guard = Guard(dashboard.settings)
    app.state.sections = tuple(sections)
    return app
