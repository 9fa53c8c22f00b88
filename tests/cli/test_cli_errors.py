"""User mistakes that used to print a traceback: each is one ``Error:`` line now."""

from __future__ import annotations

import socket

import pytest

from tests.cli.conftest import Cli, one_line_error


@pytest.mark.parametrize(
    ("backend", "variable", "url"),
    [
        ("rabbitmq", "BROKERJOBS_RABBITMQ_URL", "amqp://guest:s3cret@127.0.0.1:abc/"),
        ("mysql", "BROKERJOBS_MYSQL_URL", "mysql://root:s3cret@127.0.0.1:abc/test"),
    ],
)
def test_a_url_with_a_port_that_is_not_a_number(
    cli: Cli, backend: str, variable: str, url: str
) -> None:
    cli.env[variable] = url
    result = cli("stats", "--backend", backend, "--queue", "q")
    one_line_error(result)
    assert result.code == 1 and "port" in result.err and "not a number" in result.err
    assert "s3cret" not in result.err


def test_a_metrics_port_in_use_is_one_line(cli: Cli) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = cli("consume", "--queue", "q", "--metrics-port", str(port))
    one_line_error(result)
    assert result.code == 1 and f"port {port}" in result.err and "--metrics-port" in result.err


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("def broken(:\n    pass\n", "SyntaxError: invalid syntax"),
        ("raise RuntimeError('no config file')\n", "it raised RuntimeError: no config file"),
    ],
    ids=["syntax-error", "raises-at-import"],
)
def test_an_app_module_that_cannot_be_imported_is_a_usage_error(
    cli: Cli, source: str, says: str
) -> None:
    (cli.cwd / "brokenapp.py").write_text(source)
    for command in (["consume"], ["stats"], ["dispatch", "Anything"]):
        result = cli(*command, "--app", "brokenapp")
        one_line_error(result)
        assert result.code == 2, (command, result.err)
        assert "--app: cannot import 'brokenapp'" in result.err and says in result.err


def test_a_misspelt_backend_gets_did_you_mean_not_an_install_command(cli: Cli) -> None:
    result = cli("stats", "--backend", "rabbitmqq")
    one_line_error(result)
    assert result.code == 2
    assert "unknown backend 'rabbitmqq'; did you mean rabbitmq?" in result.err
    assert "pip install" not in result.err
