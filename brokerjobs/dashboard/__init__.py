"""``brokerjobs dashboard``: a small web UI for operators, the same on every backend.

Install with ``pip install "brokerjobs[dashboard]"`` (Starlette, Jinja2, uvicorn). The
pages show queue counts and dead letters and replay or purge them through the backend
contract, with the rules of ``brokerjobs dlq``. See ``docs/dashboard.md``.
"""

from __future__ import annotations

from brokerjobs.dashboard.app import create_app
from brokerjobs.dashboard.sections import Section
from brokerjobs.dashboard.service import Dashboard
from brokerjobs.dashboard.settings import DashboardSettings, check_bind

__all__ = ["Dashboard", "DashboardSettings", "Section", "check_bind", "create_app"]
