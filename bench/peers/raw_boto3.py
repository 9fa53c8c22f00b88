"""Baseline: a hand-written boto3 SQS loop, no framework.

Producer: ``seq`` is one ``SendMessage`` at a time; ``batch`` is ``SendMessageBatch`` of
10 (checking per-entry ``Failed``). Worker: ``BENCH_THREADS`` threads, each looping
``ReceiveMessage`` (10 at a time, 1 s long poll) and ``DeleteMessageBatch`` after
running the batch.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from typing import Any

import boto3

from bench.peers import driver, probe
from bench.peers.payload import raw_body, raw_sent_at

BATCH = 10


def _client() -> tuple[Any, str]:
    client = boto3.client(
        "sqs",
        endpoint_url=driver.env("SQS_ENDPOINT"),
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    url = client.create_queue(QueueName=driver.env("QUEUE"))["QueueUrl"]
    return client, str(url)


class RawBoto3Producer:
    def __init__(self) -> None:
        self.modes: Mapping[str, driver.SendMode] = {
            "seq": self.seq,
            "batch": self.batch,
            "fill": self.batch,
        }

    def start(self) -> None:
        self.client, self.url = _client()

    def one(self, size: int, sent_at: float) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=raw_body(size, sent_at).decode())

    def seq(self, count: int, size: int) -> None:
        body = raw_body(size).decode()
        for _ in range(count):
            self.client.send_message(QueueUrl=self.url, MessageBody=body)

    def batch(self, count: int, size: int) -> None:
        body = raw_body(size).decode()
        for chunk in driver.chunks(count, BATCH):
            entries = [{"Id": str(i), "MessageBody": body} for i in range(chunk)]
            reply = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
            if reply.get("Failed"):
                raise RuntimeError(f"SendMessageBatch failed: {reply['Failed']}")

    def stop(self) -> None:
        self.client.close()


def _consume() -> None:
    client, url = _client()
    while True:
        reply = client.receive_message(QueueUrl=url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=1)
        messages = reply.get("Messages", [])
        if not messages:
            continue
        for message in messages:
            probe.hit(raw_sent_at(message["Body"].encode()))
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        client.delete_message_batch(QueueUrl=url, Entries=entries)


def worker() -> None:
    """Receive, run and delete forever (the harness kills the process)."""
    threads = [
        threading.Thread(target=_consume, daemon=True)
        for _ in range(int(driver.env("THREADS", "1")))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    if sys.argv[1:] == ["worker"]:
        worker()
    else:
        driver.main(RawBoto3Producer)
