"""``brokerjobs purge`` and ``brokerjobs cancel`` on every broker (issue 14, item 21).

Here rather than in tests/cli: they run over every backend harness, like the worker suite.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta

from brokerjobs.backend import Backend
from tests.cli.conftest import EXECUTABLE, ROOT, Result, one_line_error
from tests.support.harness import BackendHarness, eventually
from tests.worker import jobs
from tests.worker.conftest import send
from tests.worker.processes import child_env
from tests.worker.test_purge_cancel import CANNOT_CANCEL


def brokerjobs(harness: BackendHarness, *args: str, input: str | None = None) -> Result:
    """Run the real ``brokerjobs`` executable against ``harness``'s broker."""
    done = subprocess.run(
        [str(EXECUTABLE), *args],
        env=child_env(harness),
        cwd=ROOT,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Result(done.returncode, done.stdout, done.stderr)


async def test_purge_asks_first_then_deletes_the_waiting_messages(
    harness: BackendHarness, backend: Backend, queue: str, token: str
) -> None:
    for index in range(2):
        await send(backend, queue, jobs.Succeed(token=f"{token}-{index}"))
    await send(backend, queue, jobs.Succeed(token=f"{token}-later"), delay=timedelta(hours=1))

    async def waiting() -> bool:
        stats = await backend.stats(queue)
        return (stats.ready, stats.delayed) == (2, 1)

    await eventually(waiting, timeout=10)
    declined = brokerjobs(harness, "purge", queue, input="n\n")
    assert declined.code == 1, declined
    assert "Delete the 2 ready and 1 delayed messages" in declined.out
    await eventually(waiting, timeout=5)

    confirmed = brokerjobs(harness, "purge", queue, input="y\n")
    assert confirmed.code == 0, confirmed
    if harness.name == "sqs":
        assert f"purged {queue!r}" in confirmed.out
    else:
        assert f"deleted 3 waiting messages from {queue!r}" in confirmed.out

    async def empty() -> bool:
        stats = await backend.stats(queue)
        return (stats.ready, stats.delayed) == (0, 0)

    await eventually(empty, timeout=70)
    again = brokerjobs(harness, "purge", queue, "--yes")
    assert (again.code, again.out.strip()) == (0, f"nothing waiting in {queue!r}"), again


async def test_cancel_deletes_one_message_or_says_the_broker_cannot(
    harness: BackendHarness, backend: Backend, queue: str, token: str
) -> None:
    message_id = await send(backend, queue, jobs.Succeed(token=token))
    result = brokerjobs(harness, "cancel", message_id, "--queue", queue)
    if harness.name in CANNOT_CANCEL:
        assert result.code == 1, result
        one_line_error(result)
        assert f"the {harness.name} backend cannot cancel one queued message" in result.err
        assert (await backend.stats(queue)).ready == 1, "nothing was touched"
        return
    assert result.code == 0, result
    assert result.out.strip() == f"cancelled {message_id} in {queue!r}"
    assert (await backend.stats(queue)).ready == 0
    again = brokerjobs(harness, "cancel", message_id, "--queue", queue)
    assert again.code == 1
    one_line_error(again)
    assert f"no waiting message {message_id!r}" in again.err
