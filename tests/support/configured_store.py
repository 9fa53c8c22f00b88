"""An autouse fixture for tests of store discovery: no ``BROKERJOBS_STORE``, nothing cached.

Import ``fresh_store_config`` into a test module to apply it to every test there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from brokerjobs import config, stores


@pytest.fixture(autouse=True)
def fresh_store_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("BROKERJOBS_STORE", raising=False)
    config.reset()
    stores.forget_stores()
    yield
    config.reset()
    stores.forget_stores()
