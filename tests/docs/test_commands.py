"""Every ``brokerjobs`` command line shown in the docs, the Dockerfile and the compose file
names a real command and real options (checked against the CLI's own definition)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from brokerjobs.cli import main

ROOT = Path(__file__).resolve().parents[2]
PENDING = {"--metrics-port": "the worker's metrics/health port arrives with observability"}
"""Options the docs and docker files use ahead of the CLI: a missing one is an xfail."""


def _doc_command_lines() -> list[tuple[str, str]]:
    lines = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            found = re.match(r"^\s*\$ (brokerjobs\s.*)$", line)
            if found:
                where = f"{page.relative_to(ROOT).as_posix()}:{number}"
                lines.append((where, found.group(1).split(" #", 1)[0]))
    return lines


def _words(command_line: str) -> list[str]:
    """Shell words of ``command_line`` with optional-argument brackets dropped."""
    return [word.strip("[]") for word in shlex.split(command_line.replace("...", ""))]


def _resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    """The (sub)command the words name and the option names they use."""
    command: click.Command = main
    rest = words[1:]
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    options = [word.split("=", 1)[0] for word in rest if word.startswith("--")]
    return command, options


def _known(command: click.Command) -> set[str]:
    names = {option for param in command.params for option in param.opts}
    return names | {"--help"}


def _check(where: str, words: list[str]) -> None:
    command, options = _resolve(words)
    assert (
        not isinstance(command, click.Group)
        or "--help" in options
        or "-h" in options
        or (len(words) == 1)
    ), f"{where}: `{' '.join(words)}` names no command of the group {command.name}"
    unknown = [option for option in options if option not in _known(command)]
    pending = [option for option in unknown if option in PENDING]
    assert unknown == pending, f"{where}: `{command.name}` has no option {unknown}"
    if pending:
        pytest.xfail(f"{where}: {pending[0]} not in the CLI yet ({PENDING[pending[0]]})")


def test_docs_use_real_commands_and_options() -> None:
    lines = _doc_command_lines()
    assert len(lines) >= 4
    for where, line in lines:
        _check(where, _words(line))


def _compose_commands() -> list[tuple[str, list[str]]]:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    commands = []
    for name, service in compose["services"].items():
        if "build" in service and "entrypoint" not in service:
            commands.append((f"compose service {name}", service["command"]))
    return commands


def test_the_image_and_compose_workers_use_real_options() -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    entrypoint = re.search(r"^ENTRYPOINT (\[.*\])$", dockerfile, re.M)
    default = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert entrypoint is not None and default is not None
    prefix: list[str] = yaml.safe_load(entrypoint.group(1))
    assert prefix == ["brokerjobs", "consume"]
    checks = [("Dockerfile CMD", yaml.safe_load(default.group(1))), *_compose_commands()]
    assert len(checks) == 4  # the image's default and one worker per backend
    # check everything that is not pending first, so a real mistake is never hidden
    for where, arguments in checks:
        known = [a for a in arguments if not (a.startswith("--") and a in PENDING)]
        _check(where, [*prefix, *known])
    for where, arguments in checks:
        _check(where, [*prefix, *arguments])


def test_a_wrong_option_or_command_is_caught() -> None:
    with pytest.raises(AssertionError, match="has no option"):
        _check("here", _words("brokerjobs consume --queues emails"))
    with pytest.raises(AssertionError, match="names no command"):
        _check("here", _words("brokerjobs dlq replays emails"))
    _check("here", _words("brokerjobs dlq replay emails [--limit N]"))
