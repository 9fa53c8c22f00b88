"""The DynamoDB store's edges: its URL, a missing table, an unreachable endpoint."""

from __future__ import annotations

import uuid

import pytest
from brokerjobs_sqs.dynamodb_store import DynamoDBStore

from brokerjobs.errors import StoreError, StoreUnavailableError
from brokerjobs.stores import build_store
from tests.support import backend_sqs

pytestmark = pytest.mark.dynamodb
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def test_the_url_names_table_region_endpoint_and_creation() -> None:
    store = build_store("dynamodb://locks?region=eu-west-1&endpoint_url=http%3A//h%3A1&create=1")
    assert isinstance(store, DynamoDBStore)
    assert (store.table, store.region, store.endpoint_url, store.create) == (
        "locks", "eu-west-1", "http://h:1", True,
    )  # fmt: skip


async def test_a_missing_table_says_how_to_create_it() -> None:
    endpoint = backend_sqs.connection_options()["endpoint_url"]
    store = DynamoDBStore(
        f"missing-{uuid.uuid4().hex[:8]}",
        region="us-east-1",
        endpoint_url=endpoint,
        client_options=CREDENTIALS,
    )
    with pytest.raises(StoreError, match="create=1"):
        await store.get("k")
    await store.aclose()


async def test_an_unreachable_endpoint_is_a_transient_store_error() -> None:
    from tests.faults.rabbit_node import free_port

    store = DynamoDBStore(
        "t",
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        client_options=CREDENTIALS,
    )
    with pytest.raises(StoreUnavailableError, match="DynamoDB get_item"):
        await store.get("k")
    await store.aclose()
