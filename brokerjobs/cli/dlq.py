"""``brokerjobs dlq list|show|replay|purge``: inspect and act on dead letters."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from brokerjobs import dead_letter_ops as ops
from brokerjobs.cli.common import (
    UsageProblem,
    async_command,
    backend_option,
    close_backend,
    open_backend,
)
from brokerjobs.cli.output import display_name, headline, short_id
from brokerjobs.dead_letter_ops import SCAN_LIMIT, job_of, listing


def parse_filter(value: str | None) -> str | None:
    """``job=NAME`` → NAME (the only filter so far)."""
    if value is None:
        return None
    key, sep, wanted = value.partition("=")
    if not sep or key.strip() != "job" or not wanted.strip():
        raise UsageProblem("--filter", "use job=NAME")
    return wanted.strip()


def filter_option(func: Any) -> Any:
    return click.option(
        "--filter",
        "filter_",
        metavar="job=NAME",
        default=None,
        help="Only dead letters of this job (full or class name).",
    )(func)


@click.group()
def dlq() -> None:
    """Inspect, replay and purge dead letters."""


@dlq.command("list")
@click.argument("queue")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@filter_option
@click.option("--json", "as_json", is_flag=True)
@backend_option
@async_command
async def list_(
    queue: str, limit: int, filter_: str | None, as_json: bool, backend_name: str | None
) -> None:
    """List dead letters of QUEUE: id, job, attempts, when, why."""
    job = parse_filter(filter_)
    backend = open_backend(backend_name)
    try:
        rows = await listing(backend, queue, job, limit)
    finally:
        await close_backend(backend)
    for dead in rows:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "message_id": dead.message_id,
                        "job": job_of(dead),
                        "attempt": dead.attempt,
                        "dead_lettered_at": dead.dead_lettered_at.isoformat()
                        if dead.dead_lettered_at
                        else None,
                        "reason": dead.reason,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            when = (
                dead.dead_lettered_at.strftime("%Y-%m-%d %H:%M:%S")
                if dead.dead_lettered_at
                else "-"
            )
            click.echo(
                f"☠ {short_id(dead.message_id)} {display_name(job_of(dead))} "
                f"attempt {dead.attempt} {when} — {headline(dead.reason)}"
            )
    if not rows and not as_json:
        click.echo(f"no dead letters in {queue!r}", err=True)


@dlq.command()
@click.argument("queue")
@click.argument("message_id")
@backend_option
@async_command
async def show(queue: str, message_id: str, backend_name: str | None) -> None:
    """Show one dead letter of QUEUE in full: envelope, payload and reason."""
    backend = open_backend(backend_name)
    try:
        found = [
            d
            for d in await backend.dead_letters(queue, limit=SCAN_LIMIT)
            if d.message_id == message_id or d.message_id.startswith(message_id)
        ]
    finally:
        await close_backend(backend)
    if len(found) != 1:
        what = "no" if not found else "more than one"
        raise click.ClickException(f"{what} dead letter matches {message_id!r} in {queue!r}")
    dead = found[0]
    click.echo(
        f"message id: {dead.message_id}\nqueue:      {dead.queue}\n"
        f"attempts:   {dead.attempt}\nparked at:  {dead.dead_lettered_at or '-'}"
    )
    try:
        body: Any = json.loads(dead.body)
        click.echo("body:\n" + json.dumps(body, indent=2, ensure_ascii=False))
    except ValueError:
        click.echo(f"body (not JSON, {len(dead.body)} bytes): {dead.body[:500]!r}")
    click.echo("reason:\n" + dead.reason)


@dlq.command()
@click.argument("queue")
@click.option("--id", "ids", multiple=True, metavar="MESSAGE_ID", help="Only these (repeatable).")
@filter_option
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@backend_option
@async_command
async def replay(
    queue: str,
    ids: tuple[str, ...],
    filter_: str | None,
    limit: int | None,
    backend_name: str | None,
) -> None:
    """Move dead letters of QUEUE back to it (attempts start again at 1)."""
    job = parse_filter(filter_)
    backend = open_backend(backend_name)
    try:
        with click.progressbar(length=0, label=f"replaying {queue}", file=sys.stderr) as bar:

            def started(target: int) -> None:
                bar.length = target

            replayed = await ops.replay(
                backend, queue, ids=ids, job=job, limit=limit, started=started, progress=bar.update
            )
    finally:
        await close_backend(backend)
    click.echo(f"replayed {replayed} dead letters to {queue!r}")


@dlq.command()
@click.argument("queue")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@backend_option
@async_command
async def purge(queue: str, yes: bool, backend_name: str | None) -> None:
    """Delete every dead letter of QUEUE for good."""
    backend = open_backend(backend_name)
    try:
        count = (await backend.stats(queue)).dead
        if not count:
            click.echo(f"no dead letters in {queue!r}")
            return
        if not yes:
            click.confirm(f"Delete {count} dead letters of {queue!r} for good?", abort=True)
        deleted = await ops.purge(backend, queue)
    finally:
        await close_backend(backend)
    click.echo(f"deleted {deleted} dead letters from {queue!r}")
