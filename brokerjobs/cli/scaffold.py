"""``brokerjobs new job NAME``: a job class skeleton and a matching test."""

from __future__ import annotations

import keyword
import os
import re
from pathlib import Path

import click

from brokerjobs.cli.common import UsageProblem

JOB_TEMPLATE = '''"""{class_name}: TODO say what this job does."""

from __future__ import annotations

from brokerjobs import Job, JobContext


class {class_name}(Job, queue="{queue}", max_attempts=5, time_limit=60):
    """TODO: describe the work. Fields are the payload: pass ids, not whole objects."""

    record_id: int

    {async_}def run(self, ctx: JobContext) -> None:
        ctx.logger.info("{class_name} for record %s (attempt %s)", self.record_id, ctx.attempt)
        # TODO: do the work. Raise to retry (with backoff); raise brokerjobs.Fail(...) to give up.
'''

TEST_TEMPLATE = '''"""Tests for {class_name}."""

from __future__ import annotations

from brokerjobs import dispatch
from brokerjobs.testing import FakeBroker
from {module} import {class_name}


def test_{snake}_is_dispatched_and_runs(fake_broker: FakeBroker) -> None:
    dispatch({class_name}(record_id=1))
    assert fake_broker.dispatched({class_name}) == [{class_name}(record_id=1)]
    result = fake_broker.drain()
    assert result.succeeded == 1, result.errors
'''


CONFTEST_TEMPLATE = '''"""Lets plain `pytest` import this project's modules (by `brokerjobs new`).

pytest puts the folder of a top-level conftest.py on sys.path, so `from {module} import
...` works in tests without installing the project or `python -m pytest`. Delete this
file once the project is installed or sets `pythonpath` in its pytest configuration.
"""
'''


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def class_name_of(name: str) -> str:
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) is None:
        raise UsageProblem("NAME", "use letters, digits and _ (e.g. SendWelcomeEmail)")
    camel = "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)
    if keyword.iskeyword(camel):
        raise UsageProblem("NAME", f"{name!r} is a Python keyword")
    return camel


def import_root(directory: Path) -> Path:
    """Where the job module is imported from: the current directory if it holds ``directory``."""
    cwd = Path.cwd().resolve()
    return cwd if directory.resolve().is_relative_to(cwd) else directory.resolve()


def module_path(directory: Path, stem: str) -> str:
    """Dotted module name of ``directory/stem.py`` relative to its :func:`import_root`."""
    relative = directory.resolve().relative_to(import_root(directory))
    return ".".join([*relative.parts, stem])


@click.group()
def new() -> None:
    """Generate code skeletons."""


@new.command("job")
@click.argument("name")
@click.option("--async", "is_async", is_flag=True, help="Write `async def run`.")
@click.option("--queue", default="default", show_default=True)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where the job module goes.",
)
@click.option(
    "--tests",
    "tests_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("tests"),
    show_default=True,
    help="Where its test goes.",
)
def new_job(name: str, is_async: bool, queue: str, directory: Path, tests_dir: Path) -> None:
    """Write NAME's job module and a test for it (never overwrites)."""
    class_name = class_name_of(name)
    stem = snake_case(class_name)
    job_file = directory / f"{stem}.py"
    test_file = tests_dir / f"test_{stem}.py"
    for path in (job_file, test_file):
        if path.exists():
            raise click.ClickException(f"{path} already exists; not overwriting it")
    values = {
        "class_name": class_name,
        "queue": queue,
        "async_": "async " if is_async else "",
        "module": module_path(directory, stem),
        "snake": stem,
    }
    directory.mkdir(parents=True, exist_ok=True)
    tests_dir.mkdir(parents=True, exist_ok=True)
    job_file.write_text(JOB_TEMPLATE.format(**values))
    test_file.write_text(TEST_TEMPLATE.format(**values))
    click.echo(f"created {job_file}")
    click.echo(f"created {test_file}")
    conftest = import_root(directory) / "conftest.py"
    if not conftest.exists():  # an existing one already puts its folder on sys.path
        conftest.write_text(CONFTEST_TEMPLATE.format(module=values["module"]))
        click.echo(f"created {os.path.relpath(conftest)}")
