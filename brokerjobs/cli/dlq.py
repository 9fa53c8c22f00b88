"""``brokerjobs dlq list|show|replay|purge``: inspect and act on dead letters."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from brokerjobs import dead_letter_ops as ops
from brokerjobs.backend import Backend, DeadLetter
from brokerjobs.cli.common import (
    CommandFailed,
    UsageProblem,
    app_option,
    async_command,
    backend_option,
    close_backend,
    import_apps,
    open_backend,
)
from brokerjobs.cli.letters import NOT_A_JOB, Unparsed, by_prefix, job_of, parse_body
from brokerjobs.cli.output import counted, headline, short_id
from brokerjobs.dead_letter_ops import SCAN_LIMIT
from brokerjobs.job import registry


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
        help="Only dead letters of this job: its full name, its last dotted part, or its "
        "class name (with --app).",
    )(func)


async def listing(backend: Backend, queue: str, job: str | None, limit: int) -> list[DeadLetter]:
    found = await ops.listing(backend, queue, job, limit)
    if job is not None and not found and not registry.names():
        click.echo(f"no dead letter of a job named {job!r}; class names need --app", err=True)
    return found


@click.group()
def dlq() -> None:
    """Inspect, replay and purge dead letters."""


@dlq.command("list")
@click.argument("queue")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@filter_option
@click.option("--json", "as_json", is_flag=True)
@backend_option
@app_option
@async_command
async def list_(
    queue: str,
    limit: int,
    filter_: str | None,
    as_json: bool,
    backend_name: str | None,
    apps: tuple[str, ...],
) -> None:
    """List dead letters of QUEUE: id, job, attempts, when, why."""
    job = parse_filter(filter_)
    import_apps(apps)
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
                f"☠ {short_id(dead.message_id)} {job_of(dead) or NOT_A_JOB} "
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
        dead = by_prefix(await backend.dead_letters(queue, limit=SCAN_LIMIT), message_id)
    finally:
        await close_backend(backend)
    if dead is None:
        raise CommandFailed(f"no dead letter matches {message_id!r} in {queue!r}")
    click.echo(
        f"message id: {dead.message_id}\nqueue:      {dead.queue}\n"
        f"attempts:   {dead.attempt}\nparked at:  {dead.dead_lettered_at or '-'}"
    )
    body = parse_body(dead.body)
    if isinstance(body, Unparsed):
        click.echo(
            f"body (not readable as JSON: {body.problem}; {len(dead.body)} bytes): "
            f"{dead.body[:500]!r}"
        )
    else:
        click.echo("body:\n" + json.dumps(body, indent=2, ensure_ascii=False))
    click.echo("reason:\n" + dead.reason)


def select(letters: list[DeadLetter], ids: tuple[str, ...], queue: str) -> list[str]:
    """The ids of ``letters`` named in ``ids`` (each a full id or a unique prefix).

    Every one must match, else nothing is replayed: a typo is an error, not a no-op.
    """
    if not ids:
        return [d.message_id for d in letters]
    chosen = []
    for prefix in ids:
        dead = by_prefix(letters, prefix)
        if dead is None:
            raise CommandFailed(f"no dead letter matches {prefix!r} in {queue!r}")
        chosen.append(dead.message_id)
    return list(dict.fromkeys(chosen))


@dlq.command()
@click.argument("queue")
@click.option(
    "--id",
    "ids",
    multiple=True,
    metavar="MESSAGE_ID",
    help="Only these (repeatable); a unique prefix (as `dlq list` prints) is enough.",
)
@filter_option
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@backend_option
@app_option
@async_command
async def replay(
    queue: str,
    ids: tuple[str, ...],
    filter_: str | None,
    limit: int | None,
    backend_name: str | None,
    apps: tuple[str, ...],
) -> None:
    """Move dead letters of QUEUE back to it (attempts start again at 1)."""
    job = parse_filter(filter_)
    import_apps(apps)
    backend = open_backend(backend_name)
    try:
        if ids or job is not None:
            chosen = select(await listing(backend, queue, job, SCAN_LIMIT), ids, queue)[:limit]
            if not chosen:
                raise CommandFailed(f"no dead letter of job {job!r} in {queue!r}")
        else:
            chosen = None
        with click.progressbar(length=0, label=f"replaying {queue}", file=sys.stderr) as bar:

            def started(target: int) -> None:
                bar.length = target

            replayed = await ops.replay(
                backend,
                queue,
                ids=chosen or (),
                job=None if chosen else job,
                limit=limit,
                started=started,
                progress=bar.update,
            )
    finally:
        await close_backend(backend)
    click.echo(f"replayed {counted(replayed, 'dead letter')} to {queue!r}")


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
            click.confirm(
                f"Delete {counted(count, 'dead letter')} of {queue!r} for good?", abort=True
            )
        deleted = await ops.purge(backend, queue)
    finally:
        await close_backend(backend)
    click.echo(f"deleted {counted(deleted, 'dead letter')} from {queue!r}")
