"""``brokerjobs db migrate`` creates the jobs tables, idempotently; clear errors otherwise."""

from __future__ import annotations

import sqlite3

from tests.cli.conftest import Cli


def test_migrate_creates_the_tables_and_is_idempotent(cli: Cli) -> None:
    first = cli("db", "migrate")
    assert first.code == 0, first.err
    assert first.out.strip() == "sqlite: jobs schema at version 2"
    assert cli("db", "migrate").code == 0
    tables = {row[0] for row in sqlite3.connect(cli.path).execute("SELECT name FROM sqlite_master")}
    assert {"brokerjobs_jobs", "brokerjobs_dead_letters"} <= tables


def test_migrate_on_a_broker_backend_is_one_line_error(cli: Cli) -> None:
    wrong_options = cli("db", "migrate", "--backend", "memory")
    assert wrong_options.code == 1
    assert "cannot be built with the options given (poll_interval)" in wrong_options.err
    assert "Traceback" not in wrong_options.err

    del cli.env["BROKERJOBS_BACKEND_OPTIONS"]
    result = cli("db", "migrate", "--backend", "memory")
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        "Error: backend 'memory' has no tables to migrate; "
        "`db migrate` is for the SQL backends (sqlite, postgres, mysql)"
    ]
