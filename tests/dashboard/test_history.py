"""The sampled history behind the queue charts."""

from __future__ import annotations

from brokerjobs.backend import QueueStats
from brokerjobs.dashboard.history import History, sparkline


def stats(dead: int, ready: int = 0) -> QueueStats:
    return QueueStats("q", ready=ready, in_flight=0, delayed=0, dead=dead)


def test_dead_per_minute_counts_rises_only() -> None:
    history = History(size=10)
    assert history.dead_per_minute("q") is None
    for at, dead in [(0, 0), (30, 6), (60, 2), (90, 5), (120, 5)]:  # a replay at 60 s
        history.add(stats(dead), at=at)
    assert history.dead_per_minute("q") == (6 + 3) * 60 / 120


def test_history_keeps_the_last_samples_only() -> None:
    history = History(size=3)
    for at in range(5):
        history.add(stats(at), at=at)
    assert [s.at for s in history.samples("q")] == [2, 3, 4]


def test_sparkline_scales_into_the_box() -> None:
    assert sparkline([5]) == ""
    points = [tuple(map(float, p.split(","))) for p in sparkline([0, 10, 5], 100, 20).split()]
    assert [x for x, _ in points] == [0.0, 50.0, 100.0]
    ys = [y for _, y in points]
    assert ys[1] < ys[2] < ys[0] and min(ys) >= 0 and max(ys) <= 20
