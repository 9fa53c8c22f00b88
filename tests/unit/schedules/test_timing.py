"""When ticks fall: cron in a time zone across DST, intervals, and declaration errors."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from brokerjobs import Job, JobContext
from brokerjobs.errors import ScheduleError
from brokerjobs.schedules import Schedule, tick_of
from brokerjobs.schedules.declarations import parse_tick, tick_text

BERLIN = "Europe/Berlin"
SPRING = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # the evening before clocks go 02:00 → 03:00
FALL = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)  # the evening before clocks go 03:00 → 02:00


class Report(Job, name="tests.schedules.Report", queue="reports"):
    def run(self, ctx: JobContext) -> None:
        return None


def local(schedule: Schedule, ticks: list[datetime]) -> list[str]:
    return [tick.astimezone(schedule.zone).isoformat() for tick in ticks]


def test_a_0230_job_runs_once_at_0300_on_the_spring_forward_day() -> None:
    nightly = Schedule("nightly", Report(), cron="30 2 * * *", timezone=BERLIN)
    assert local(nightly, nightly.next_ticks(SPRING, 2)) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_dst_gap_skip_leaves_out_the_spring_forward_day() -> None:
    nightly = Schedule("nightly", Report(), cron="30 2 * * *", timezone=BERLIN, dst_gap="skip")
    assert local(nightly, nightly.next_ticks(SPRING, 2)) == [
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_a_0230_job_runs_once_on_the_fall_back_day() -> None:
    nightly = Schedule("nightly", Report(), cron="30 2 * * *", timezone=BERLIN)
    assert local(nightly, nightly.next_ticks(FALL, 2)) == [
        "2026-10-25T02:30:00+02:00",  # the first 02:30; the second (+01:00) is not a tick
        "2026-10-26T02:30:00+01:00",
    ]


def test_from_inside_the_repeated_hour_the_past_0230_is_not_answered_again() -> None:
    nightly = Schedule("nightly", Report(), cron="30 2 * * *", timezone=BERLIN)
    second_0210 = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 02:10+01:00, after the first 02:30
    assert local(nightly, nightly.next_ticks(second_0210, 1)) == ["2026-10-26T02:30:00+01:00"]


def test_a_wildcard_schedule_follows_elapsed_time_through_both_transitions() -> None:
    half_hourly = Schedule("half", Report(), cron="*/30 * * * *", timezone=BERLIN)
    fall = half_hourly.next_ticks(datetime(2026, 10, 24, 23, 15, tzinfo=UTC), 6)
    spring = half_hourly.next_ticks(datetime(2026, 3, 28, 23, 15, tzinfo=UTC), 6)
    for ticks in (fall, spring):
        assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(ticks))
    assert local(half_hourly, fall)[1:5] == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
    ]


def test_intervals_are_counted_from_the_epoch_so_every_replica_agrees() -> None:
    every_10s = Schedule("ten", Report(), every=10)
    assert every_10s.next_ticks(datetime(2026, 1, 1, 0, 0, 3, 500_000, tzinfo=UTC), 2) == [
        datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 20, tzinfo=UTC),
    ]
    on_a_tick = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    assert every_10s.next_ticks(on_a_tick, 1) == [on_a_tick + timedelta(seconds=10)]


def test_message_ids_name_the_schedule_and_the_tick_and_parse_back() -> None:
    every_10s = Schedule("ten", Report(), every=10)
    tick = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    assert every_10s.message_id(tick) == "ten@2026-01-01T00:00:10Z"
    assert tick_of("ten@2026-01-01T00:00:10Z", "ten") == tick
    assert tick_of("other@2026-01-01T00:00:10Z", "ten") is None
    fractional = tick + timedelta(microseconds=250_000)
    assert parse_tick(tick_text(fractional)) == fractional


def test_jitter_is_the_same_on_every_replica_and_within_bounds() -> None:
    first = Schedule("jittery", Report(), every=60, jitter=30)
    second = Schedule("jittery", Report(), every=60, jitter=30)
    ticks = first.next_ticks(datetime(2026, 1, 1, tzinfo=UTC), 20)
    offsets = [(first.due(t) - t).total_seconds() for t in ticks]
    assert offsets == [(second.due(t) - t).total_seconds() for t in ticks]
    assert all(0 <= offset < 30 for offset in offsets)
    assert len(set(offsets)) > 1


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"cron": "61 * * * *"}, "invalid cron expression"),
        ({"cron": "0 2 * * *", "every": 5}, "exactly one of"),
        ({}, "exactly one of"),
        ({"every": 0}, "at least 1 ms"),
        ({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"every": 5, "jitter": -1}, "jitter"),
    ],
)
def test_wrong_declarations_are_schedule_errors(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ScheduleError, match=problem):
        Schedule("bad", Report(), **kwargs)  # type: ignore[arg-type]


def test_a_name_that_cannot_be_part_of_a_message_id_is_refused() -> None:
    with pytest.raises(ScheduleError, match="schedule name"):
        Schedule("has space", Report(), every=5)
