"""The one-line-per-job report of ``brokerjobs consume`` (text or JSON lines)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from brokerjobs.dead_letter_ops import display_name
from brokerjobs.worker import Hooks, JobEvent
from brokerjobs.worker.outcome import error_summary

REASON_LIMIT = 300

__all__ = ["display_name", "headline", "human_seconds", "reporter", "short_id"]


def short_id(message_id: str) -> str:
    return message_id[:8] + "…" if len(message_id) > 8 else message_id


def human_seconds(seconds: float) -> str:
    """``350 ms``, ``1.5 s``, ``8 s``, ``3 min``, ``2 h``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def headline(reason: str | None) -> str:
    line = (reason or "").splitlines()[0] if reason else ""
    return line if len(line) <= REASON_LIMIT else line[: REASON_LIMIT - 1] + "…"


def text_line(event: JobEvent) -> str:
    """``✔ 8f3c… SendWelcomeEmail (emails) 12 ms`` and its ✖ / ☠ siblings."""
    ident = f"{short_id(event.message_id)} {display_name(event.job_name)} ({event.queue})"
    if event.outcome == "ack":
        return f"✔ {ident} {human_seconds(event.duration or 0.0)}"
    if event.outcome == "retry":
        error = error_summary(event.error) if event.error is not None else headline(event.reason)
        delay = human_seconds(event.retry_delay or 0.0)
        return (
            f"✖ {ident} attempt {event.attempt}/{event.max_attempts} — {error} — retry in {delay}"
        )
    return f"☠ {ident} dead-lettered — {headline(event.reason)}"


def json_line(event: JobEvent) -> str:
    document: dict[str, Any] = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "event": {"ack": "job.succeeded", "retry": "job.retrying"}.get(
            event.outcome or "", "job.dead_lettered"
        ),
        "message_id": event.message_id,
        "job": event.job_name,
        "queue": event.queue,
        "attempt": event.attempt,
        "max_attempts": event.max_attempts,
    }
    if event.duration is not None:
        document["duration_ms"] = round(event.duration * 1000, 3)
    if event.error is not None:
        document["error"] = error_summary(event.error)
    if event.outcome == "retry":
        document["retry_in_s"] = round(event.retry_delay or 0.0, 3)
    elif event.outcome == "dead_letter":
        document["reason"] = event.reason
    return json.dumps(document, ensure_ascii=False)


def reporter(log_format: str, stream: TextIO | None = None, *, quiet: bool = False) -> Hooks:
    """Hooks printing one line per finished attempt to ``stream`` (stdout).

    ``quiet`` leaves out successes: only retries and dead letters are printed.
    """
    out = stream or sys.stdout
    render = json_line if log_format == "json" else text_line
    hooks = Hooks()

    def emit(event: JobEvent) -> None:
        # Not click.echo: its per-call stream checks cost three times the write itself,
        # on every job. Flushed per line so the lines show up as jobs finish, in pipes too.
        out.write(render(event) + "\n")
        out.flush()

    if not quiet:
        hooks.after(emit)
    hooks.on_retry(emit)
    hooks.on_dead_letter(emit)
    return hooks
