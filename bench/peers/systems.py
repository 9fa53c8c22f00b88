"""What is measured: each system's producer module, timed modes and worker set-ups.

A *system* is a producer (the module run by :mod:`bench.peers.driver`) plus one or more
worker set-ups. Every figure is keyed ``system`` (dispatch) or ``system/worker`` (drain,
latency, memory). ``{queue}`` in a worker command is replaced by the run's queue name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WorkerSetup:
    """One way of running a system's worker."""

    label: str
    argv: tuple[str, ...]
    """Arguments after the Python interpreter."""
    copies: int = 1
    """Processes the harness starts itself (brokerjobs' 2-process figure)."""
    consumers: int = 1
    """Consumers on the queue once the worker is ready."""
    env: Mapping[str, str] = field(default_factory=dict)
    processes: int = 1
    """Worker processes doing the work (for the 1- vs 2-process targets)."""
    sizes: tuple[int, ...] | None = None
    """Payload sizes this set-up drains (None: all); extra set-ups skip the big ones."""


@dataclass(frozen=True)
class System:
    name: str
    broker: str
    """``rabbitmq`` or ``sqs``."""
    venv: str
    """``project`` (brokerjobs' own venv) or ``peers`` (bench/.venv-peers)."""
    module: str
    kind: str
    """``raw``, ``peer`` or ``brokerjobs``: how its figures are compared."""
    queue_type: str
    modes: tuple[str, ...]
    """Timed dispatch modes, in order."""
    workers: tuple[WorkerSetup, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    broker_queue: str = "{queue}"
    """The broker-side name of the work queue (to count its consumers)."""
    sizes: tuple[int, ...] | None = None
    """Payload sizes measured (None: all of the plan's)."""
    job_kind: str = ""
    """``sync`` (a plain function, run in threads) or ``async``: what kind of job the
    worker runs; empty for the raw clients, which run no job."""


# What brokerjobs declares on a quorum work queue (brokerjobs_rabbitmq.topology), so the
# quorum baselines measure the client on the same queue. The DLX target is never used.
BROKERJOBS_QUORUM_ARGS = {
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": "bench.dead",
    "x-delivery-limit": 20,
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}


def _raw(name: str, module: str, queue_type: str, modes: tuple[str, ...]) -> System:
    worker = WorkerSetup(
        "1p", ("-m", f"bench.peers.{module}", "worker"), env={"BENCH_PREFETCH": "256"}
    )
    return System(
        name,
        "rabbitmq",
        "project",
        module,
        "raw",
        queue_type,
        modes,
        (worker,),
        env={
            "QUEUE_TYPE": queue_type.removeprefix("plain-"),
            "QUEUE_ARGS": json.dumps(BROKERJOBS_QUORUM_ARGS if queue_type == "quorum" else {}),
        },
        sizes=None if queue_type == "quorum" else (100,),
    )


BROKERJOBS_CONSUME = (
    "-m", "brokerjobs.cli", "consume", "--app", "bench.peers.brokerjobs_peer",
    "--queue", "{queue}", "--concurrency", "64", "--prefetch", "256", "--log-level", "warning",
)  # fmt: skip
"""``brokerjobs consume`` as users run it; the backend comes from ``BROKERJOBS_BACKEND``."""
BROKERJOBS_SQS_CONSUME = tuple(
    "64" if arg == "256" else arg for arg in BROKERJOBS_CONSUME
)  # SQS receives 10 at a time: a smaller window is plenty


def _brokerjobs(
    name: str,
    queue_type: str,
    workers: tuple[int, ...],
    sizes: tuple[int, ...] | None = None,
    job_kind: str = "async",
) -> System:
    """brokerjobs on RabbitMQ. The sync twin drains only: dispatch does not depend on
    the job's kind, so its dispatch modes would measure the async system again."""
    setups = tuple(
        WorkerSetup(
            f"{count}p",
            (*BROKERJOBS_CONSUME, "--processes", str(count)),
            consumers=count,
            processes=count,
            sizes=None if count == 1 else (100,),
        )
        for count in workers
    )
    return System(
        name,
        "rabbitmq",
        "project",
        "brokerjobs_peer",
        "brokerjobs",
        queue_type,
        ("seq", "async500", "many") if job_kind == "async" else (),
        setups,
        env={"BACKEND": "rabbitmq", "JOB_KIND": job_kind},
        broker_queue="brokerjobs.{queue}",
        sizes=sizes,
        job_kind=job_kind,
    )


def _brokerjobs_sqs(name: str, job_kind: str) -> System:
    return System(
        name,
        "sqs",
        "project",
        "brokerjobs_peer",
        "brokerjobs",
        "standard",
        ("seq", "many") if job_kind == "async" else (),
        (WorkerSetup("1p", (*BROKERJOBS_SQS_CONSUME, "--processes", "1")),),
        env={"BACKEND": "sqs", "JOB_KIND": job_kind},
        job_kind=job_kind,
    )


CELERY_WORKER = WorkerSetup(
    "solo",
    (
        "-m",
        "celery",
        "-A",
        "bench.peers.celery_peer",
        "worker",
        "-P",
        "solo",
        "-Q",
        "{queue}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "WARNING",
    ),
)

DRAMATIQ_WORKER = WorkerSetup(
    "2p×4t",
    (
        "-m",
        "dramatiq",
        "bench.peers.dramatiq_peer",
        "--processes",
        "2",
        "--threads",
        "4",
        "--queues",
        "{queue}",
    ),
    consumers=2,
    env={"dramatiq_queue_prefetch": "256"},
    processes=2,
)

TASKIQ_WORKER = WorkerSetup(
    "1w",
    (
        "-m",
        "taskiq",
        "worker",
        "bench.peers.taskiq_peer:broker",
        "--workers",
        "1",
        "--max-async-tasks",
        "256",
        "--no-configure-logging",
    ),
)

RABBITMQ_SYSTEMS: tuple[System, ...] = (
    _raw("raw-pika", "raw_pika", "quorum", ("seq",)),
    _raw("raw-aiopika", "raw_aiopika", "quorum", ("seq", "window")),
    _raw("raw-pika-classic", "raw_pika", "classic", ("seq",)),
    _raw("raw-pika-plain", "raw_pika", "plain-quorum", ("seq",)),
    _raw("raw-aiopika-plain", "raw_aiopika", "plain-quorum", ("seq", "window")),
    _raw("raw-aiopika-classic", "raw_aiopika", "classic", ("seq", "window")),
    System(
        "celery",
        "rabbitmq",
        "peers",
        "celery_peer",
        "peer",
        "classic",
        ("seq",),
        (CELERY_WORKER,),
        job_kind="sync",
    ),
    System(
        "dramatiq",
        "rabbitmq",
        "peers",
        "dramatiq_peer",
        "peer",
        "classic",
        ("seq",),
        (DRAMATIQ_WORKER,),
        job_kind="sync",
    ),
    System(
        "taskiq",
        "rabbitmq",
        "peers",
        "taskiq_peer",
        "peer",
        "quorum",
        ("seq", "window"),
        (TASKIQ_WORKER,),
        job_kind="async",
    ),
    _brokerjobs("brokerjobs", "quorum", (1, 2)),
    _brokerjobs("brokerjobs-sync", "quorum", (1, 2), job_kind="sync"),
    _brokerjobs("brokerjobs-classic", "classic", (1, 2), sizes=(100,)),
)

SQS_SYSTEMS: tuple[System, ...] = (
    System(
        "raw-boto3",
        "sqs",
        "project",
        "raw_boto3",
        "raw",
        "standard",
        ("seq", "batch"),
        tuple(
            WorkerSetup(
                f"{n}t",
                ("-m", "bench.peers.raw_boto3", "worker"),
                env={"BENCH_THREADS": str(n)},
                sizes=None if n == 1 else (100,),
            )
            for n in (1, 4)
        ),
    ),
    System(
        "celery-sqs",
        "sqs",
        "peers",
        "celery_peer",
        "peer",
        "standard",
        ("seq",),
        (CELERY_WORKER,),
        job_kind="sync",
    ),
    _brokerjobs_sqs("brokerjobs-sqs", "async"),
    _brokerjobs_sqs("brokerjobs-sqs-sync", "sync"),
)

ALL_SYSTEMS: dict[str, System] = {s.name: s for s in (*RABBITMQ_SYSTEMS, *SQS_SYSTEMS)}
OPTIONAL = ("raw-pika-plain", "raw-aiopika-plain")
"""Run only when named with ``--systems``: quorum queues without brokerjobs' arguments,
to show what delivery limits and at-least-once dead-lettering cost the broker."""
