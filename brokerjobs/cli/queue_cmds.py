"""``brokerjobs purge QUEUE`` and ``brokerjobs cancel ID``: remove waiting work.

Both are optional backend capabilities (:mod:`brokerjobs.capabilities`): a backend that
lacks one gets a one-line error saying so, never a half-done attempt.
"""

from __future__ import annotations

import click

from brokerjobs.capabilities import Cancellable, Purgeable
from brokerjobs.cli.common import (
    CommandFailed,
    async_command,
    backend_option,
    close_backend,
    open_backend,
)


@click.command()
@click.argument("queue")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@backend_option
@async_command
async def purge(queue: str, yes: bool, backend_name: str | None) -> None:
    """Delete every waiting (ready or delayed) message of QUEUE for good.

    Running jobs finish (except on SQS, whose PurgeQueue deletes them too); dead letters
    stay (see `brokerjobs dlq purge`).
    """
    backend = open_backend(backend_name)
    try:
        if not isinstance(backend, Purgeable):
            raise CommandFailed(f"the {backend.name} backend cannot purge a queue")
        stats = await backend.stats(queue)
        if not stats.ready + stats.delayed + stats.in_flight:
            click.echo(f"nothing waiting in {queue!r}")
            return
        if not yes:
            click.confirm(
                f"Delete the {stats.ready} ready and {stats.delayed} delayed messages of "
                f"{queue!r} for good?",
                abort=True,
            )
        deleted = await backend.purge(queue)
    finally:
        await close_backend(backend)
    if deleted is None:
        click.echo(f"purged {queue!r} (the broker does not say how many messages it deleted)")
    else:
        click.echo(f"deleted {deleted} waiting {_messages(deleted)} from {queue!r}")


@click.command()
@click.argument("message_id")
@click.option("--queue", default="default", show_default=True, help="The message's queue.")
@backend_option
@async_command
async def cancel(message_id: str, queue: str, backend_name: str | None) -> None:
    """Delete the waiting message MESSAGE_ID (the full id dispatch printed) before it runs.

    A job already running is not interrupted. SQL and in-memory backends can do this;
    RabbitMQ and SQS cannot (a broker queue cannot delete one message by id).
    """
    backend = open_backend(backend_name)
    try:
        if not isinstance(backend, Cancellable):
            raise CommandFailed(
                f"the {backend.name} backend cannot cancel one queued message: its broker "
                "hands messages out in order and cannot delete one by id; purge the queue "
                "(`brokerjobs purge`), or let the job check a flag of yours and return early"
            )
        cancelled = await backend.cancel(queue, message_id)
    finally:
        await close_backend(backend)
    if not cancelled:
        raise CommandFailed(
            f"no waiting message {message_id!r} in {queue!r} (never sent, already running "
            "or finished, or dead-lettered)"
        )
    click.echo(f"cancelled {message_id} in {queue!r}")


def _messages(count: int) -> str:
    return "message" if count == 1 else "messages"
