"""``brokerjobs db migrate``: create or upgrade the jobs tables of a SQL backend."""

from __future__ import annotations

import click

from brokerjobs.cli.common import (
    CommandFailed,
    async_command,
    backend_option,
    close_backend,
    open_backend,
)


@click.group()
def db() -> None:
    """Manage the jobs tables of the SQL backends (sqlite, postgres, mysql)."""


@db.command()
@backend_option
@async_command
async def migrate(backend_name: str | None) -> None:
    """Create or upgrade the jobs tables (idempotent; safe to run at every deploy)."""
    backend = open_backend(backend_name)
    try:
        run = getattr(backend, "migrate", None)
        if run is None:
            raise CommandFailed(
                f"backend {backend.name!r} has no tables to migrate; "
                "`db migrate` is for the SQL backends (sqlite, postgres, mysql)"
            )
        version = await run()
        click.echo(f"{backend.name}: jobs schema at version {version}")
    finally:
        await close_backend(backend)
