"""The benchmark's cleanup goes through AMQP to the broker it was given, not rabbitmqctl.

A remote or stopped local node used to make ``python -m bench.peers --amqp-url URL`` die
in the sweep (``rabbitmqctl list_queues`` on the local default node, 60 s timeout).
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest
from brokerjobs_rabbitmq import RabbitMQSettings
from brokerjobs_rabbitmq.topology import Topology, apply_sync

from bench.peers.rabbit import RabbitProbe, derived_names
from tests.support.backend_rabbitmq import require_broker


def _url() -> str:
    return RabbitMQSettings().url.get_secret_value()


def _exists(channel: Any, kind: str, name: str) -> bool:
    try:
        if kind == "queue":
            channel.queue_declare(name, passive=True)
        else:
            channel.exchange_declare(name, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker as closed:
        assert closed.reply_code == 404, closed
        return False


def _no_subprocess(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"the sweep started a process: {args}")


@pytest.mark.rabbitmq
async def test_sweep_deletes_each_systems_names_through_amqp_without_rabbitmqctl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await require_broker()
    token = f"bjsweeptest{uuid.uuid4().hex[:8]}"
    brokerjobs_queue, dramatiq_queue, celery_queue = (
        f"{token}-{system}-1" for system in ("brokerjobs", "dramatiq", "celery")
    )
    connection = pika.BlockingConnection(pika.URLParameters(_url()))
    try:
        channel = connection.channel()
        # What the systems declare: brokerjobs' topology, Dramatiq's .DQ/.XQ queues, and
        # Celery's queue plus its direct exchange.
        apply_sync(channel, Topology(RabbitMQSettings()).declarations(brokerjobs_queue))
        for name in (dramatiq_queue, f"{dramatiq_queue}.DQ", f"{dramatiq_queue}.XQ"):
            channel.queue_declare(name, durable=True)
        channel.queue_declare(celery_queue, durable=True)
        channel.exchange_declare(celery_queue, "direct", durable=True)

        monkeypatch.setenv("PATH", str(tmp_path))  # no rabbitmqctl (nor anything else)
        monkeypatch.setattr(subprocess, "run", _no_subprocess)
        monkeypatch.setattr(subprocess, "Popen", _no_subprocess)
        probe = RabbitProbe(_url())
        try:
            probe.remember("brokerjobs_peer", brokerjobs_queue)
            probe.remember("dramatiq_peer", dramatiq_queue)
            probe.remember("celery_peer", celery_queue)
            probe.remember("raw_aiopika", f"{token}-raw-never-declared-1")  # absent: tolerated
            probe.remember("taskiq_peer", f"{token}-taskiq-never-declared-1")
            deleted = probe.sweep()
            assert probe.sweep() == 0  # each name is swept once
        finally:
            probe.close()

        expected = [
            ("queue", name)
            for module, queue in (
                ("brokerjobs_peer", brokerjobs_queue),
                ("dramatiq_peer", dramatiq_queue),
                ("celery_peer", celery_queue),
            )
            for name in derived_names(module, queue)[0]
        ] + [
            ("exchange", name)
            for module, queue in (
                ("brokerjobs_peer", brokerjobs_queue),
                ("celery_peer", celery_queue),
            )
            for name in derived_names(module, queue)[1]
        ]
        assert len(expected) > 40  # brokerjobs alone: work, dead, ~23 wait queues and exchanges
        assert deleted >= len(expected)
        left = []
        for kind, name in expected:
            if channel.is_closed:  # a 404 on the last passive declare closed it
                channel = connection.channel()
            if _exists(channel, kind, name):
                left.append(name)
        assert left == []
    finally:
        if connection.is_open:
            connection.close()


def test_derived_names_follow_each_systems_naming() -> None:
    queues, exchanges = derived_names("brokerjobs_peer", "q")
    names = Topology(RabbitMQSettings()).names("q")
    assert queues == list(names.all_queues) and exchanges == list(names.levels)
    assert queues[:2] == ["brokerjobs.q", "brokerjobs.q.dead"]
    assert derived_names("dramatiq_peer", "q") == (["q", "q.DQ", "q.XQ"], [])
    assert derived_names("celery_peer", "q") == (["q"], ["q"])
    assert derived_names("raw_pika", "q") == (["q"], [])
