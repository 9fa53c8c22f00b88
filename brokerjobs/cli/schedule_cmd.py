"""``brokerjobs scheduler`` (run the schedules) and ``brokerjobs schedule list``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from brokerjobs.cli.common import (
    CommandFailed,
    app_option,
    backend_option,
    close_backend,
    import_apps,
    log_options,
    open_backend,
    run_async,
    setup_logging,
)
from brokerjobs.errors import BrokerJobsError

if TYPE_CHECKING:
    from brokerjobs.schedules import Scheduler

_group_option = click.option(
    "--group",
    default="default",
    show_default=True,
    envvar="BROKERJOBS_SCHEDULER_GROUP",
    help="Schedulers of one group share one lease (broker-lease claiming only).",
)


def _scheduler(backend_name: str | None, apps: tuple[str, ...], group: str) -> Scheduler:
    from brokerjobs.schedules import Scheduler

    import_apps(apps)
    backend = open_backend(backend_name)
    try:
        return Scheduler(backend, group=group)
    except BrokerJobsError as exc:
        raise CommandFailed(str(exc)) from None


@click.command()
@backend_option
@app_option
@_group_option
@click.option(
    "--metrics-port",
    type=click.IntRange(min=1, max=65535),
    default=None,
    help="Serve /healthz (fails when the tick loop stalls) and /metrics on this port.",
)
@log_options
def scheduler(
    backend_name: str | None,
    apps: tuple[str, ...],
    group: str,
    metrics_port: int | None,
    log_format: str,
    log_level: str,
) -> None:
    """Dispatch the declared schedules' ticks until SIGTERM/SIGINT.

    Safe to run on every replica: each tick is dispatched once (see docs/schedules.md).
    """
    from brokerjobs.schedules.running import run_until_signal

    setup_logging(log_format, log_level)
    running = _scheduler(backend_name, apps, group)

    async def serve() -> None:
        try:
            await run_until_signal(running, metrics_port=metrics_port)
        finally:
            await close_backend(running.backend)

    run_async(serve)


@click.group()
def schedule() -> None:
    """Inspect the declared schedules."""


@schedule.command("list")
@backend_option
@app_option
@_group_option
@click.option("--next", "count", type=click.IntRange(min=1), default=3, show_default=True)
def list_schedules(backend_name: str | None, apps: tuple[str, ...], group: str, count: int) -> None:
    """Every schedule: when it runs, its next ticks and the last tick dispatched."""
    from brokerjobs.schedules import DeduplicationClaimer

    running = _scheduler(backend_name, apps, group)
    now = datetime.now(UTC)

    async def last_ticks() -> list[str]:
        seen = []
        try:
            for declared in running.schedules:
                if isinstance(running.claimer, DeduplicationClaimer):
                    seen.append("not recorded (broker deduplication)")
                    continue
                last = await running.claimer.resume_point(declared, now)
                seen.append(last.isoformat() if last else "never")
        finally:
            await running.claimer.aclose()
            await close_backend(running.backend)
        return seen

    seen = run_async(last_ticks)
    click.echo(f"ticks claimed by {running.claimer.description}")
    for declared, last in zip(running.schedules, seen, strict=True):
        zone = declared.zone
        upcoming = ", ".join(
            tick.astimezone(zone).isoformat() for tick in declared.next_ticks(now, count)
        )
        click.echo(f"{declared.name}  {declared.describe()}  misfire={declared.misfire.policy}")
        click.echo(f"  next: {upcoming}")
        click.echo(f"  last dispatched tick: {last}")
