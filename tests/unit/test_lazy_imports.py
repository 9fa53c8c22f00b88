"""``import brokerjobs`` leaves the heavy dependencies alone until they are used.

Each check runs in a fresh interpreter: this process has long imported everything. No
timing here (that is ``bench/import_time.py``): which modules got imported is
deterministic, and it is what import time is made of.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = [
    "pydantic_settings",
    "dotenv",
    "opentelemetry",
    "opentelemetry.sdk",
    "click",
    "aiormq",
    "aio_pika",
    "pika",
    "boto3",
    "botocore",
    "sqlalchemy",
    "brokerjobs.cli",
    "brokerjobs.worker",
    "brokerjobs.core_settings",
]


def imported_after(statement: str) -> set[str]:
    """The modules of :data:`HEAVY` loaded after ``statement`` in a fresh interpreter."""
    script = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(result.stdout)) & set(HEAVY)


@pytest.mark.parametrize(
    "statement", ["import brokerjobs", "from brokerjobs import Job, JobContext, dispatch"]
)
def test_importing_brokerjobs_loads_no_heavy_module(statement: str) -> None:
    assert imported_after(statement) == set()


def test_lazy_names_load_their_module_on_first_use() -> None:
    loaded = imported_after("import brokerjobs\nbrokerjobs.Worker\nbrokerjobs.Settings")
    assert {"brokerjobs.worker", "brokerjobs.core_settings", "pydantic_settings"} <= loaded
    assert loaded.isdisjoint({"opentelemetry", "click", "brokerjobs.cli"})


def test_first_dispatch_loads_settings_and_the_opentelemetry_api_but_not_the_sdk() -> None:
    statement = (
        "import brokerjobs\n"
        "from brokerjobs.memory import MemoryBackend\n"
        "class Ping(brokerjobs.Job, name='lazy.ping'):\n"
        "    n: int\n"
        "brokerjobs.dispatch(Ping(n=1), backend=MemoryBackend())"
    )
    loaded = imported_after(statement)
    assert {"opentelemetry", "pydantic_settings"} <= loaded
    assert loaded.isdisjoint({"opentelemetry.sdk", "click", "brokerjobs.cli", "brokerjobs.worker"})


def test_lazy_names_are_listed_and_typed_like_the_others() -> None:
    import brokerjobs
    from brokerjobs.config import Settings as ConfigSettings
    from brokerjobs.core_settings import Settings
    from brokerjobs.worker import Hooks, JobEvent, Worker

    assert set(brokerjobs.__all__) <= set(dir(brokerjobs))
    assert (brokerjobs.Worker, brokerjobs.Hooks, brokerjobs.JobEvent) == (Worker, Hooks, JobEvent)
    assert brokerjobs.Settings is Settings is ConfigSettings
    assert callable(brokerjobs.dispatch)  # the function, not the module of the same name
    with pytest.raises(AttributeError, match="no_such_name"):
        brokerjobs.no_such_name  # noqa: B018
