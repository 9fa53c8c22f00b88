"""How much each measurement sends: full runs, ``--quick`` smoke runs."""

from __future__ import annotations

from dataclasses import dataclass, field

SIZES = (100, 1024, 65536)


@dataclass(frozen=True)
class Counts:
    """Messages per timed dispatch mode, and the queue depth a worker drains."""

    seq: int
    window: int
    many: int
    drain: int

    def for_mode(self, mode: str) -> int:
        if mode == "seq":
            return self.seq
        if mode == "many":
            return self.many
        return self.window  # window, async500, batch


@dataclass(frozen=True)
class Plan:
    repetitions: int
    rabbitmq: dict[int, Counts]
    sqs: dict[int, Counts]
    latency_count: int
    latency_rate: float
    import_runs: int
    drain_timeout: float = 180.0
    sizes: tuple[int, ...] = field(default=SIZES)
    sqs_latency: tuple[int, float] = (200, 20.0)
    """Jobs and rate of the SQS latency run: moto takes ~40 sends/s, not 500."""

    def counts(self, broker: str, size: int) -> Counts:
        return (self.rabbitmq if broker == "rabbitmq" else self.sqs)[size]

    def latency(self, broker: str) -> tuple[int, float]:
        if broker == "rabbitmq":
            return self.latency_count, self.latency_rate
        return self.sqs_latency


FULL = Plan(
    repetitions=3,
    rabbitmq={
        100: Counts(seq=1000, window=3000, many=5000, drain=10000),
        1024: Counts(seq=500, window=2000, many=3000, drain=5000),
        65536: Counts(seq=200, window=500, many=500, drain=1000),
    },
    # moto's SendMessage walks every message of the queue (its ``attributes``), so cost
    # grows with depth: SQS figures stay small and measure client overhead, not SQS.
    sqs={
        100: Counts(seq=100, window=200, many=200, drain=300),
        1024: Counts(seq=100, window=200, many=200, drain=300),
        65536: Counts(seq=50, window=100, many=100, drain=200),
    },
    latency_count=2000,
    latency_rate=500.0,
    import_runs=5,
)

QUICK = Plan(
    repetitions=1,
    rabbitmq={
        100: Counts(seq=100, window=300, many=300, drain=1000),
        1024: Counts(seq=50, window=100, many=100, drain=300),
        65536: Counts(seq=20, window=50, many=50, drain=100),
    },
    sqs={
        100: Counts(seq=20, window=30, many=30, drain=60),
        1024: Counts(seq=10, window=20, many=20, drain=40),
        65536: Counts(seq=10, window=20, many=20, drain=40),
    },
    latency_count=250,
    latency_rate=500.0,
    sqs_latency=(50, 20.0),
    import_runs=2,
    drain_timeout=60.0,
)

SMOKE = Plan(
    repetitions=1,
    rabbitmq={size: Counts(seq=10, window=20, many=20, drain=60) for size in SIZES},
    sqs={size: Counts(seq=5, window=10, many=10, drain=20) for size in SIZES},
    latency_count=20,
    latency_rate=200.0,
    sqs_latency=(10, 20.0),
    import_runs=1,
    drain_timeout=60.0,
    sizes=(100,),
)
"""For tests/bench: proves every step runs, measures nothing."""
