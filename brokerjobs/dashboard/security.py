"""Authentication and CSRF protection for every dashboard request.

Who may see a page: a request with ``Authorization: Bearer <token>``, HTTP basic auth
with the configured user name and password, or the session cookie handed out by
``/login`` (after the token was typed in, or given once in the login URL). Static
files and ``/login`` itself are the only things served without a credential.

Every state-changing request (POST, PUT, PATCH, DELETE) must also carry the session's
CSRF token in ``X-CSRF-Token``: browsers send basic-auth credentials and cookies to any
site that posts to us, but a page of another origin can neither read the token nor add
the header without a preflight we never grant. A cross-origin ``Origin`` header is
refused outright. The token is an HMAC of the session, so it differs per login.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from brokerjobs.dashboard.settings import DashboardSettings

COOKIE = "brokerjobs_dashboard"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_SESSIONS = 1000
"""Cookie sessions kept; the oldest is forgotten (logged out) past this many logins."""


@dataclass
class Guard:
    """Checks credentials and CSRF tokens for one running dashboard."""

    settings: DashboardSettings
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    sessions: dict[str, None] = field(default_factory=dict)
    """Open cookie sessions, oldest first (a dict as an ordered set)."""

    # -- who is asking -------------------------------------------------------------
    def session_of(self, request: HTTPConnection) -> str | None:
        """An id for the caller's session, or None when it has no valid credential."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(value.strip()):
            return "bearer"
        if scheme.lower() == "basic" and self._basic_matches(value.strip()):
            return "basic:" + (self.settings.username or "")
        cookie = request.cookies.get(COOKIE)
        if cookie and cookie in self.sessions:
            return "cookie:" + cookie
        return None

    def token_matches(self, given: str) -> bool:
        token = self.settings.token
        return token is not None and _same(given, token.get_secret_value())

    def _basic_matches(self, value: str) -> bool:
        user, password = self.settings.username, self.settings.password
        if not user or password is None:
            return False
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        given_user, _, given_password = decoded.partition(":")
        # Both compared, always: no early exit telling which half was wrong.
        user_ok = _same(given_user, user)
        return _same(given_password, password.get_secret_value()) and user_ok

    def open_session(self) -> str:
        """A new cookie session (after a successful ``/login``)."""
        session = secrets.token_urlsafe(32)
        self.sessions[session] = None
        while len(self.sessions) > MAX_SESSIONS:
            del self.sessions[next(iter(self.sessions))]
        return session

    # -- CSRF ----------------------------------------------------------------------
    def csrf_token(self, session: str) -> str:
        return hmac.new(self.key, session.encode(), hashlib.sha256).hexdigest()

    def csrf_problem(self, request: HTTPConnection, session: str) -> str | None:
        """Why a state-changing request is refused, or None when it may proceed."""
        if cross_origin(request):
            return "cross-origin request refused"
        given = request.headers.get(CSRF_HEADER, "")
        if not given or not _same(given, self.csrf_token(session)):
            return "missing or wrong CSRF token (send the X-CSRF-Token header)"
        return None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def cross_origin(request: HTTPConnection) -> bool:
    """True when the request names an ``Origin`` other than the host it was sent to."""
    origin = request.headers.get("origin")
    return bool(origin) and urlsplit(origin).netloc != request.headers.get("host")


def is_open_path(path: str) -> bool:
    """Served without a credential: the static files (no secret in them) and ``/login``."""
    return path == "/login" or path.startswith("/static/")
