"""Choosing the store: BROKERJOBS_STORE (URL or name), else the queue backend, else an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from brokerjobs_sql.coordination import PostgresStore, SQLiteStore

from brokerjobs import config, stores
from brokerjobs.errors import ConfigurationError, StoreNotConfiguredError
from brokerjobs.memory import MemoryBackend
from brokerjobs.store import Store, SyncStore
from brokerjobs.store_memory import InMemoryStore
from tests.support.configured_store import fresh_store_config  # noqa: F401 (autouse)


def test_a_url_selects_the_store_by_its_scheme(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "coordination.db"
    monkeypatch.setenv("BROKERJOBS_STORE", f"sqlite:///{path}")
    config.reset()
    store = stores.get_store()
    assert isinstance(store, SQLiteStore) and isinstance(store, Store)
    assert isinstance(store, SyncStore)
    assert store.jobs.dialect.describe() == f"sqlite at {path}"
    assert stores.get_store() is store  # cached per process


def test_postgres_urls_map_to_the_postgres_store() -> None:
    store = stores.build_store("postgresql://postgres@127.0.0.1:5432/test")
    assert isinstance(store, PostgresStore)
    assert stores.store_name("mariadb://root@h/db") == "mysql"


def test_a_name_selects_an_installed_store() -> None:
    assert isinstance(stores.get_store("memory"), InMemoryStore)


def test_an_unknown_store_lists_the_installed_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        stores.get_store("nosuch://x")
    message = str(caught.value)
    assert "'nosuch'" in message and "memory" in message and "sqlite" in message


def test_a_sql_backend_is_its_own_default_store(tmp_path: Path) -> None:
    from brokerjobs_sql import SQLiteBackend

    backend = SQLiteBackend(tmp_path / "jobs.db")
    store = stores.get_store(backend=backend)
    assert isinstance(store, SQLiteStore)
    assert store.jobs is backend.store  # same database, same connections
    assert backend.coordination_store() is store


def test_memory_backends_sharing_a_broker_share_a_store() -> None:
    one, two = MemoryBackend(), MemoryBackend()
    assert stores.get_store(backend=one) is stores.get_store(backend=two)


def test_a_broker_that_is_no_store_fails_saying_what_to_set() -> None:
    from brokerjobs_rabbitmq import RabbitMQBackend

    backend = RabbitMQBackend(url="amqp://guest:guest@127.0.0.1:5672/")
    with pytest.raises(StoreNotConfiguredError) as caught:
        stores.get_store(backend=backend, needed_by="job Report (unique_for=60)")
    message = str(caught.value)
    assert "job Report (unique_for=60) needs a coordination store" in message
    assert "'rabbitmq'" in message and "BROKERJOBS_STORE" in message
    assert isinstance(caught.value, ConfigurationError)


def test_configure_names_the_store_in_code() -> None:
    from brokerjobs_rabbitmq import RabbitMQBackend

    config.configure(store="memory")
    backend = RabbitMQBackend(url="amqp://guest:guest@127.0.0.1:1/")  # never contacted
    assert isinstance(stores.get_store(backend=backend), InMemoryStore)
