"""The coordination :class:`~brokerjobs.store.Store` on a DynamoDB table, for AWS fleets.

Every operation is one conditional write (``PutItem``/``UpdateItem``/``DeleteItem`` with a
``ConditionExpression``), which DynamoDB applies atomically per item, so racers on one key
never both win. The table has a string partition key ``k``; items carry ``v`` (bytes),
``n`` (a window counter) and ``exp`` (epoch seconds), the table's TTL attribute.

DynamoDB's TTL deletion is lazy (typically within days, not seconds), so expiry is
decided when reading and in every condition (``exp > :now``); the TTL only keeps the
table small. DynamoDB has no server clock to compute with: ``now`` is this machine's
clock, so the fleet's clocks must agree (NTP keeps them within milliseconds; a host whose
clock is off by more than a lock's ttl sees others' locks expire early or late).

``BROKERJOBS_STORE=dynamodb://TABLE?region=eu-west-1`` (``endpoint_url=`` for a local
endpoint, ``create=1`` to create the table with its TTL when missing). Credentials come
from the standard AWS chain (environment, profile, instance or task role).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from brokerjobs.errors import ConfigurationError, StoreError, StoreUnavailableError
from brokerjobs.store import BlockingStore, check_key, check_ttl, check_window
from brokerjobs_sqs.translate import TRANSIENT_CODES, error_code, scrub

T = TypeVar("T")
_LIVE = "exp > :now"
_ABSENT = "attribute_not_exists(k) OR exp <= :now"


class _ConditionFailed(Exception):
    """A conditional write found the item in another state (the normal "no")."""


class DynamoDBStore(BlockingStore):
    """Expiring values as items of one DynamoDB table (see the module docstring)."""

    name: ClassVar[str] = "dynamodb"

    def __init__(
        self,
        table: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        create: bool = False,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        if not table:
            raise ConfigurationError("the DynamoDB store needs a table name: dynamodb://TABLE")
        self.table = table
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.endpoint_url = endpoint_url
        self.create = create
        self._client_options = dict(client_options or {})
        self._client: Any = None
        self._pid = 0
        self._lock = threading.Lock()
        self._ready = False

    @classmethod
    def from_url(cls, url: str | None) -> DynamoDBStore:
        """``dynamodb://TABLE?region=…&endpoint_url=…&create=1``."""
        url = url or os.environ.get("BROKERJOBS_DYNAMODB_URL") or ""
        parts = urlsplit(url)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return cls(
            parts.netloc or parts.path.lstrip("/"),
            region=query.get("region"),
            endpoint_url=query.get("endpoint_url"),
            create=query.get("create", "").lower() in {"1", "true", "yes"},
        )

    def __repr__(self) -> str:
        return f"<DynamoDBStore table {self.table!r}>"

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """This process's boto3 client (made again after ``fork()``)."""
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                config = Config(retries={"mode": "standard", "max_attempts": 3})
                self._client = boto3.session.Session().client(
                    "dynamodb",
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=config,
                    **self._client_options,
                )
                self._pid = os.getpid()
                self._ready = False
            return self._client

    def _prepare(self) -> None:
        """Make the client (and the table, with ``create``) before a ttl is computed."""
        if not self._ready:
            self._ensure_table(self.client)

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        self._prepare()
        client = self.client
        try:
            result: dict[str, Any] = getattr(client, operation)(TableName=self.table, **params)
            return result
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise _ConditionFailed from None
            raise _translate(exc, operation, self.table) from None
        except BotoCoreError as exc:
            raise _translate(exc, operation, self.table) from None

    def _ensure_table(self, client: Any) -> None:
        if not self.create:
            self._ready = True
            return
        try:
            client.create_table(
                TableName=self.table,
                AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
            client.get_waiter("table_exists").wait(
                TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
            )
            client.update_time_to_live(
                TableName=self.table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"},
            )
        except ClientError as exc:
            if error_code(exc) != "ResourceInUseException":  # another process made it
                raise _translate(exc, "CreateTable", self.table) from None
        except BotoCoreError as exc:
            raise _translate(exc, "CreateTable", self.table) from None
        self._ready = True

    # -- blocking operations ----------------------------------------------------------------
    def set_if_absent_sync(self, key: str, value: bytes, *, ttl: float) -> bool:
        check_key(key)
        self._prepare()
        now = time.time()
        item = {"k": {"S": key}, "v": {"B": bytes(value)}, "exp": _number(now + check_ttl(ttl))}
        try:
            self._call("put_item", Item=item, ConditionExpression=_ABSENT, **_now(now))
        except _ConditionFailed:
            return False
        return True

    def get_sync(self, key: str) -> bytes | None:
        check_key(key)
        found = self._call("get_item", Key={"k": {"S": key}}, ConsistentRead=True).get("Item")
        if not found or float(found["exp"]["N"]) <= time.time():
            return None
        return bytes(found["v"]["B"])

    def compare_and_set_sync(self, key: str, expected: bytes, value: bytes, *, ttl: float) -> bool:
        check_key(key)
        self._prepare()
        now = time.time()
        values = {":now": _number(now), ":e": {"B": bytes(expected)}, ":v": {"B": bytes(value)}}
        values[":exp"] = _number(now + check_ttl(ttl))
        try:
            self._call(
                "update_item",
                Key={"k": {"S": key}},
                UpdateExpression="SET v = :v, exp = :exp",
                ConditionExpression=f"v = :e AND {_LIVE}",
                ExpressionAttributeValues=values,
            )
        except _ConditionFailed:
            return False
        return True

    def compare_and_delete_sync(self, key: str, expected: bytes) -> bool:
        check_key(key)
        values = {":now": _number(time.time()), ":e": {"B": bytes(expected)}}
        try:
            self._call(
                "delete_item",
                Key={"k": {"S": key}},
                ConditionExpression=f"v = :e AND {_LIVE}",
                ExpressionAttributeValues=values,
            )
        except _ConditionFailed:
            return False
        return True

    def count_in_window_sync(self, key: str, *, limit: int, window: float) -> float:
        window = check_window(key, limit, window)
        self._prepare()
        for _ in range(10):
            now = time.time()
            opened = {"k": {"S": key}, "v": {"B": b""}, "n": _number(1)}
            opened["exp"] = _number(now + window)
            try:
                self._call("put_item", Item=opened, ConditionExpression=_ABSENT, **_now(now))
                return 0.0
            except _ConditionFailed:
                pass
            try:
                self._call(
                    "update_item",
                    Key={"k": {"S": key}},
                    UpdateExpression="SET n = n + :one",
                    ConditionExpression=f"{_LIVE} AND n < :limit",
                    ExpressionAttributeValues={
                        ":now": _number(now), ":one": _number(1), ":limit": _number(limit)
                    },
                )  # fmt: skip
                return 0.0
            except _ConditionFailed:
                pass
            found = self._call("get_item", Key={"k": {"S": key}}, ConsistentRead=True).get("Item")
            if found:
                left = float(found["exp"]["N"]) - time.time()
                if left > 0:
                    return left
        raise StoreError(f"count_in_window({key!r}) kept racing with window ends")

    # -- lifetime -------------------------------------------------------------------------
    async def aclose(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def _number(value: float) -> dict[str, str]:
    return {"N": repr(float(value)) if not isinstance(value, int) else str(value)}


def _now(now: float) -> dict[str, Any]:
    return {"ExpressionAttributeValues": {":now": _number(now)}}


def _translate(exc: BaseException, operation: str, table: str) -> StoreError:
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = scrub(str(exc.response.get("Error", {}).get("Message", "")))
        detail = f"DynamoDB {operation} on table {table!r} failed: {code}: {message}"
        if code == "ResourceNotFoundException":
            return StoreError(f"{detail}; create the table (or add create=1 to the store URL)")
        if code in TRANSIENT_CODES or code == "ProvisionedThroughputExceededException":
            return StoreUnavailableError(detail)
        return StoreError(detail)
    name = type(exc).__name__
    if "Timeout" in name or "Connection" in name or "Endpoint" in name:
        return StoreUnavailableError(f"DynamoDB {operation} on table {table!r}: {name}")
    return StoreError(f"DynamoDB {operation} on table {table!r} failed: {scrub(str(exc))}")
