"""``brokerjobs stats``: ready, in flight, delayed and dead per queue."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

import click

from brokerjobs.backend import Backend, QueueStats
from brokerjobs.cli.common import (
    app_option,
    async_command,
    backend_option,
    close_backend,
    import_apps,
    open_backend,
    split_queues,
)
from brokerjobs.cli.output import human_seconds
from brokerjobs.job import registry
from brokerjobs.options import DEFAULT_QUEUE

F = TypeVar("F", bound=Callable[..., Any])
COLUMNS = ("QUEUE", "READY", "IN FLIGHT", "DELAYED", "DEAD", "OLDEST READY")


def default_queues() -> list[str]:
    """The queues of every registered job (after --app), else ``default``."""
    queues = sorted({registry.get(name).job_options.queue for name in registry.names()})
    return queues or [DEFAULT_QUEUE]


def table(rows: list[QueueStats]) -> str:
    cells = [COLUMNS] + [
        (
            s.queue,
            str(s.ready),
            str(s.in_flight),
            str(s.delayed),
            str(s.dead),
            "-" if s.oldest_ready_age is None else human_seconds(s.oldest_ready_age),
        )
        for s in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    lines = []
    for row in cells:
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]).rstrip())
    return "\n".join(lines)


async def collect(backend: Backend, queues: list[str]) -> list[QueueStats]:
    return [await backend.stats(queue) for queue in queues]


def shown_queues_option(func: F) -> F:
    """``--queue A,B``: the queues shown (default: those of the --app jobs, else default)."""
    return click.option(
        "--queue",
        "queue_list",
        default=None,
        metavar="A,B",
        help="Queues to show [default: the queues of the --app jobs, else default].",
    )(func)


@click.command()
@shown_queues_option
@click.option("--watch", is_flag=True, help="Refresh until interrupted.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between refreshes with --watch.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON output (one document per refresh).")
@backend_option
@app_option
@async_command
async def stats(
    queue_list: str | None,
    watch: bool,
    interval: float,
    as_json: bool,
    backend_name: str | None,
    apps: tuple[str, ...],
) -> None:
    """Show ready, in flight, delayed and dead messages per queue."""
    import_apps(apps)
    queues = split_queues(queue_list) or default_queues()
    backend = open_backend(backend_name)
    interrupted = asyncio.Event()
    if watch:  # Ctrl-C / SIGTERM is the normal way out of --watch: exit 0
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, interrupted.set)
    try:
        while not interrupted.is_set():
            rows = await collect(backend, queues)
            if as_json:
                click.echo(json.dumps({"queues": [asdict(row) for row in rows]}))
            else:
                if watch and sys.stdout.isatty():
                    click.clear()
                click.echo(table(rows))
            if not watch:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(interrupted.wait(), interval)
    finally:
        await close_backend(backend)
