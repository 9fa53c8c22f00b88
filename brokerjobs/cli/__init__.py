"""The ``brokerjobs`` command line: consume, dispatch, stats, purge, cancel, dlq, dashboard,
db, new.

Exit codes: 0 success, 1 failure (broker unreachable, nothing matched...), 2 usage
error (bad option, invalid JSON, unknown backend or job). Errors are one line.
"""

from __future__ import annotations

import click

from brokerjobs import __version__
from brokerjobs.cli.consume import consume
from brokerjobs.cli.dashboard_cmd import dashboard
from brokerjobs.cli.db import db
from brokerjobs.cli.dispatch_cmd import dispatch
from brokerjobs.cli.dlq import dlq
from brokerjobs.cli.queue_cmds import cancel, purge
from brokerjobs.cli.scaffold import new
from brokerjobs.cli.stats import stats


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="brokerjobs")
def main() -> None:
    """Typed background jobs over real message brokers."""


main.add_command(consume)
main.add_command(dispatch)
main.add_command(stats)
main.add_command(purge)
main.add_command(cancel)
main.add_command(dlq)
main.add_command(dashboard)
main.add_command(db)
main.add_command(new)

__all__ = ["main"]
