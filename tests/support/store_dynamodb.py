"""Store harness for the DynamoDB store: moto's DynamoDB over real HTTP (the SQS tests' server).

``BROKERJOBS_TEST_DYNAMODB_URL`` (a ``dynamodb://TABLE?...`` store URL) points the suite at
another endpoint instead. The table is created once per session; each test's keys are
deleted afterwards.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any, ClassVar
from urllib.parse import quote

import pytest
from brokerjobs_sqs.dynamodb_store import DynamoDBStore

from brokerjobs.store import Store
from tests.support import backend_sqs
from tests.support.harness_store import StoreHarness

TABLE = "brokerjobs-store-tests"
_patched = False


def make_dynamodb_items_atomic() -> None:
    """Serialize moto's item reads and writes, as DynamoDB serializes writes to one item.

    moto serves each request in a thread of its own and evaluates a ConditionExpression
    and then writes without a lock, so two conditional writes racing on one item can
    both pass their condition: that is moto, not DynamoDB (whose conditional writes are
    atomic per item), and the race tests would count it against the store.
    """
    global _patched
    if _patched:
        return
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "get_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    _patched = True


class DynamoDBStoreHarness(StoreHarness):
    name: ClassVar[str] = "dynamodb"
    clock_tolerance: ClassVar[float] = 0.05  # the store's clock is this machine's

    def store_spec(self) -> str:
        external = os.environ.get("BROKERJOBS_TEST_DYNAMODB_URL")
        if external:
            return external
        endpoint = backend_sqs.connection_options()["endpoint_url"]
        make_dynamodb_items_atomic()  # the moto server runs in this process
        return f"dynamodb://{TABLE}?region=us-east-1&create=1&endpoint_url={quote(endpoint)}"

    def subprocess_env(self) -> dict[str, str]:
        if os.environ.get("BROKERJOBS_TEST_DYNAMODB_URL"):
            return {}
        return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    def make_store(self) -> Store:
        store = DynamoDBStore.from_url(self.store_spec())
        if not os.environ.get("BROKERJOBS_TEST_DYNAMODB_URL"):
            store._client_options = {
                "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing",
            }
        return store

    async def cleanup(self) -> None:
        if not self.stores:
            return
        store = self.stores[0]
        assert isinstance(store, DynamoDBStore)
        client = store.client
        pages = client.get_paginator("scan").paginate(
            TableName=store.table,
            FilterExpression="begins_with(k, :p)",
            ExpressionAttributeValues={":p": {"S": f"{self.prefix}:"}},
            ProjectionExpression="k",
        )
        for page in pages:
            for item in page.get("Items", []):
                client.delete_item(TableName=store.table, Key={"k": item["k"]})


HARNESSES = [DynamoDBStoreHarness]
MARKS = {"dynamodb": [pytest.mark.dynamodb]}
