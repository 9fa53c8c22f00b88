"""``brokerjobs consume``: run a worker (or several, with --processes)."""

from __future__ import annotations

import os
import sys

import click

from brokerjobs import config
from brokerjobs.cli.common import (
    UsageProblem,
    app_option,
    backend_option,
    close_backend,
    import_apps,
    open_backend,
    run_async,
    setup_logging,
    split_queues,
)
from brokerjobs.cli.output import reporter
from brokerjobs.errors import BrokerJobsError
from brokerjobs.worker import Worker
from brokerjobs.worker.limits import Limits
from brokerjobs.worker.shutdown import install_signal_handlers
from brokerjobs.worker.supervisor import RETIRED, SUPERVISED_ENV, Supervisor


@click.command()
@backend_option
@app_option
@click.option(
    "--queue",
    "queue_list",
    default="default",
    show_default=True,
    metavar="A,B,C",
    help="Queues to consume, highest priority first.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Jobs in flight per process.",
)
@click.option(
    "--prefetch",
    type=click.IntRange(min=0),
    default=None,
    help="Deliveries each queue may hold ahead of free slots; 0: none beyond the running "
    "jobs [default: concurrency].",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes, under a supervisor that restarts any that dies.",
)
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds running jobs get to finish after SIGTERM.",
)
@click.option(
    "--burst",
    is_flag=True,
    default=False,
    help="Run what is ready, then exit 0 (delayed messages do not keep it running).",
)
@click.option(
    "--max-jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Stop gracefully after starting this many jobs (the supervisor replaces it).",
)
@click.option(
    "--max-time",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop gracefully after this long (the supervisor replaces it).",
)
@click.option(
    "--max-memory",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="MB",
    help="Stop gracefully after a job leaves resident memory above this many MiB.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per line (for containers).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=1, max=65535),
    default=None,
    envvar="BROKERJOBS_METRICS_PORT",
    help="Serve /healthz and Prometheus /metrics on this port (with --processes P, "
    "worker i uses PORT+i).",
)
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    default=False,
    envvar="BROKERJOBS_QUIET",
    help="Leave out the line per successful job; retries, dead letters and the worker's "
    "own messages are still printed.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
)
def consume(
    backend_name: str | None,
    apps: tuple[str, ...],
    queue_list: str,
    concurrency: int,
    prefetch: int | None,
    processes: int,
    shutdown_timeout: float,
    burst: bool,
    max_jobs: int | None,
    max_time: float | None,
    max_memory: float | None,
    log_format: str,
    metrics_port: int | None,
    quiet: bool,
    log_level: str,
) -> None:
    """Run jobs from the queues until SIGTERM/SIGINT.

    Prints one line per finished attempt (✔ done, ✖ retrying, ☠ dead-lettered;
    no ✔ lines with --quiet).
    OpenTelemetry is set up from the standard OTEL_* variables. The
    first SIGTERM/SIGINT stops fetching, gives back prefetched messages and lets running
    jobs finish within --shutdown-timeout; a second one stops at once (unfinished jobs
    are redelivered).

    --burst exits 0 once the queues are drained. --max-jobs, --max-time and --max-memory
    stop the worker gracefully when reached: it exits 0, or, under --processes, the
    supervisor starts a fresh process in its place.
    """
    setup_logging(log_format, log_level)
    queues = split_queues(queue_list)
    if not queues:
        raise UsageProblem("--queue", "give at least one queue")
    names = import_apps(apps)
    backend_name = backend_name or config.settings().backend
    if processes > 1:
        command = [
            sys.executable,
            "-m",
            "brokerjobs.cli",
            "consume",
            "--backend",
            backend_name,
            "--queue",
            ",".join(queues),
            "--concurrency",
            str(concurrency),
            "--shutdown-timeout",
            str(shutdown_timeout),
            "--log-format",
            log_format,
            "--log-level",
            log_level,
        ]
        for name in names:
            command += ["--app", name]
        if prefetch is not None:
            command += ["--prefetch", str(prefetch)]
        if metrics_port is not None:
            command += ["--metrics-port", str(metrics_port)]
        if quiet:
            command.append("--quiet")
        if burst:
            command.append("--burst")
        for option, value in (
            ("--max-jobs", max_jobs),
            ("--max-time", max_time),
            ("--max-memory", max_memory),
        ):
            if value is not None:
                command += [option, str(value)]
        open_backend(backend_name)  # fail fast on a bad name, before forking anything
        sys.exit(Supervisor(command, processes).run())
    backend = open_backend(backend_name)
    try:
        worker = Worker(
            backend,
            queues,
            concurrency=concurrency,
            prefetch=prefetch,
            shutdown_timeout=shutdown_timeout,
            hooks=reporter(log_format, quiet=quiet),
            burst=burst,
            limits=Limits(max_jobs=max_jobs, max_time=max_time, max_memory=max_memory),
        )
    except BrokerJobsError as exc:
        raise click.ClickException(str(exc)) from None

    if metrics_port is not None:
        metrics_port += int(os.environ.get("BROKERJOBS_WORKER_INDEX", "0"))

    async def work() -> bool:
        from brokerjobs.telemetry.runtime import observe_worker

        remove = install_signal_handlers(worker)
        try:
            async with observe_worker(worker, metrics_port=metrics_port):
                return await worker.run()
        finally:
            remove()
            await close_backend(backend)

    clean = run_async(work)
    if clean and worker.retired and os.environ.get(SUPERVISED_ENV):
        sys.exit(RETIRED)  # the supervisor replaces it
    sys.exit(0 if clean else 1)
