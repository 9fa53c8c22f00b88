"""``brokerjobs dispatch``: send one job from the command line."""

from __future__ import annotations

import contextlib
import importlib
import json
from typing import Any

import click
from pydantic import ValidationError

from brokerjobs.cli.common import (
    UsageProblem,
    app_option,
    backend_option,
    close_backend,
    import_apps,
    job_aliases,
    open_backend,
    run_async,
)
from brokerjobs.dispatch import dispatch_async
from brokerjobs.job import Job, registry


def find_job(name: str) -> type[Job]:
    """The job registered as ``name``, importing its module when the name is dotted."""
    if name not in registry and "." in name:
        module = name.rsplit(".", 1)[0]
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    if name in registry:
        return registry.get(name)
    matches = [known for known in registry.names() if name in job_aliases(known)]
    if len(matches) == 1:
        return registry.get(matches[0])
    known = ", ".join(registry.names()[:20]) or "none (pass --app MODULE)"
    raise UsageProblem("JOB", f"no job named {name!r}; known jobs: {known}")


def parse_payload(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageProblem("--payload", f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageProblem("--payload", "must be a JSON object")
    return value


def build_job(cls: type[Job], payload: dict[str, Any]) -> Job:
    try:
        return cls.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'payload'}: {error['msg']}"
            for error in exc.errors(include_url=False)[:5]
        )
        raise UsageProblem("--payload", f"invalid for {cls.job_name}: {problems}") from None


@click.command()
@click.argument("job")
@click.option("--payload", default="{}", show_default=True, help="The job's fields as JSON.")
@click.option("--delay", type=click.FloatRange(min=0), default=None, help="Seconds to wait.")
@click.option("--queue", default=None, help="Queue (default: the job's own).")
@click.option("--max-attempts", type=click.IntRange(min=1), default=None)
@backend_option
@app_option
def dispatch(
    job: str,
    payload: str,
    delay: float | None,
    queue: str | None,
    max_attempts: int | None,
    backend_name: str | None,
    apps: tuple[str, ...],
) -> None:
    """Validate a payload against JOB's model and dispatch it; prints the message id.

    JOB is a registered job name or the class's dotted path (e.g.
    myservice.jobs.SendWelcomeEmail, whose module is then imported), or a class name
    found in the --app modules.
    """
    import_apps(apps)
    instance = build_job(find_job(job), parse_payload(payload))
    backend = open_backend(backend_name)

    async def send() -> str:
        try:
            return await dispatch_async(
                instance, backend=backend, queue=queue, delay=delay, max_attempts=max_attempts
            )
        finally:
            await close_backend(backend)

    click.echo(run_async(send))
