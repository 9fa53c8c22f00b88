"""The dashboard in headless Chromium, on SQLite and on the real RabbitMQ.

A real ``brokerjobs consume`` dead-letters real jobs; the page replays them with its
buttons and the same worker then runs them; purge goes through the typed confirmation;
the keyboard alone can do it all. A screenshot of each page lands in test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.app import QUEUE
from tests.dashboard.browser import Stack, artifacts_dir, make_stack, run_apart
from tests.dashboard.support import TOKEN
from tests.support import backend_rabbitmq, backend_sqlite

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SCRIPT = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture(
    params=[
        pytest.param(backend_sqlite.HARNESS, id="sqlite", marks=backend_sqlite.MARKS),
        pytest.param(backend_rabbitmq.HARNESS, id="rabbitmq", marks=backend_rabbitmq.MARKS),
    ]
)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    if request.param is backend_rabbitmq.HARNESS:
        run_apart(backend_rabbitmq.require_broker())
    for made in make_stack(request.param, tmp_path):
        queues_named = getattr(made.harness, "queues_named", None)
        if queues_named is not None:
            queues_named.add(QUEUE)  # declared by the worker: deleted at the end
        yield made


def park_jobs(stack: Stack, flaky: int) -> tuple[list[str], str, Path]:
    """``flaky`` Flaky jobs and one Evil job, dead-lettered by a real worker."""
    marker = stack.workdir / "marker"
    ids = [stack.dispatch("dashtest.Flaky", {"marker": str(marker)}) for _ in range(flaky)]
    evil = stack.dispatch("dashtest.Evil", {"html": SCRIPT})
    worker = stack.worker(QUEUE)
    lines = worker.next_lines(flaky + 1, timeout=90)
    assert all(line.startswith("☠") for line in lines), lines
    code, _ = worker.stop()
    assert code == 0
    return ids, evil, marker


def log_in(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.url}/login?token={TOKEN}")
    expect(page).to_have_url(f"{stack.url}/queues")


def test_pages_replay_in_a_real_worker_and_purge(page: Page, stack: Stack) -> None:
    shots = artifacts_dir(stack.harness.name)
    ids, evil, marker = park_jobs(stack, flaky=4)
    stack.dashboard(QUEUE)

    page.goto(stack.url + "/queues")
    expect(page).to_have_url(re.compile(r"/login$"))  # no credential, no page
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    row = page.locator(f'#queues tr[data-queue="{QUEUE}"]')
    expect(row.locator("td").nth(3)).to_have_text("5")
    page.screenshot(path=shots / "queues.png", full_page=True)

    row.get_by_role("link", name=QUEUE).click()
    expect(page.locator("#letters tbody tr")).to_have_count(5)
    page.screenshot(path=shots / "dead-letters.png", full_page=True)

    page.locator(f'tr[data-id="{evil}"] a').click()
    expect(page.locator("#body")).to_contain_text("<script>document.title='pwned'</script>")
    expect(page.locator("#reason")).to_contain_text("ValueError: <script>")
    assert page.title() != "pwned" and page.locator("#body script, #body img").count() == 0
    page.screenshot(path=shots / "dead-letter.png", full_page=True)
    page.go_back()

    marker.touch()  # from now on the Flaky jobs succeed
    worker = stack.worker(QUEUE)
    page.locator(f'tr[data-id="{ids[0]}"] button[data-replay="one"]').click()
    dialog = page.locator("#confirm-replay")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(ids[0])
    dialog.get_by_role("button", name="Replay").click()
    expect(page.locator("#status")).to_have_text(f"replayed 1 dead letters to {QUEUE}")
    ran = worker.next_lines(1, timeout=60)[0]
    assert ran.startswith("✔") and "Flaky" in ran and ids[0][:8] in ran
    expect(page.locator("#letters tbody tr")).to_have_count(4)

    for message_id in ids[1:3]:
        page.locator(f'tr[data-id="{message_id}"] input[data-select]').check()
    page.get_by_role("button", name="Replay selected (2)").click()
    dialog.get_by_role("button", name="Replay").click()
    expect(page.locator("#status")).to_have_text(f"replayed 2 dead letters to {QUEUE}")
    ran_ids = {line.split()[1].rstrip("…") for line in worker.next_lines(2, timeout=60)}
    assert ran_ids == {ids[1][:8], ids[2][:8]}

    page.get_by_role("button", name="Purge…").click()
    purge = page.locator("#confirm-purge")
    delete = purge.get_by_role("button", name="Delete for good")
    expect(delete).to_be_disabled()
    purge.get_by_label("Type the queue name to confirm").fill(QUEUE + "x")
    expect(delete).to_be_disabled()
    purge.get_by_label("Type the queue name to confirm").fill(QUEUE)
    expect(delete).to_be_enabled()
    delete.click()
    expect(page.locator("#status")).to_have_text(f"deleted 2 dead letters from {QUEUE}")
    expect(page.locator(".empty")).to_have_text("No dead letters.")

    page.get_by_role("link", name="Workers").click()
    consumers = page.locator(f'#workers tr[data-queue="{QUEUE}"] .consumers')
    expect(consumers).to_have_text("1" if stack.harness.name == "rabbitmq" else "unknown")
    page.screenshot(path=shots / "workers.png", full_page=True)
    code, _ = worker.stop()
    assert code == 0


def test_keyboard_alone_replays_and_purges(page: Page, stack: Stack) -> None:
    ids, _, marker = park_jobs(stack, flaky=1)
    stack.dashboard(QUEUE)
    log_in(page, stack)

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    tab_to(page, lambda: page.evaluate("document.activeElement.textContent") == QUEUE)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/dead-letters$"))

    tab_to(page, lambda: page.evaluate("document.activeElement.dataset.id") == ids[0])
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-replay")).to_be_visible()
    page.keyboard.press("Escape")  # cancel: nothing replayed
    expect(page.locator("#confirm-replay")).to_be_hidden()
    expect(page.locator("#letters tbody tr")).to_have_count(2)

    marker.touch()
    worker = stack.worker(QUEUE)
    page.keyboard.press("Enter")  # focus came back to the row's Replay button
    expect(page.locator("#confirm-replay")).to_be_visible()
    tab_to(page, lambda: page.evaluate("document.activeElement.textContent") == "Replay")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text(f"replayed 1 dead letters to {QUEUE}")
    assert ids[0][:8] in worker.next_lines(1, timeout=60)[0]

    tab_to(page, lambda: page.evaluate("document.activeElement.textContent") == "Purge…")
    page.keyboard.press("Enter")
    # The dialog opens with the text box focused; the delete button is after Cancel.
    assert page.evaluate("document.activeElement.hasAttribute('data-typed')") is True
    page.keyboard.type(QUEUE)
    tab_to(page, lambda: page.evaluate("document.activeElement.textContent") == "Delete for good")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text(f"deleted 1 dead letters from {QUEUE}")
    code, _ = worker.stop()
    assert code == 0


def test_read_only_pages_offer_no_buttons(page: Page, stack: Stack) -> None:
    park_jobs(stack, flaky=1)
    stack.dashboard(QUEUE, extra=("--read-only",))
    log_in(page, stack)
    expect(page.locator(".badge")).to_have_text("read-only")
    page.goto(f"{stack.url}/queues/{QUEUE}/dead-letters")
    expect(page.locator("#letters tbody tr")).to_have_count(2)
    assert page.locator("button[data-replay], button[data-purge]").count() == 0
    refused = page.evaluate(
        """async () => (await fetch(location.pathname.replace('/queues', '/api/queues')
                 + '/purge', {method: 'POST', headers: {'x-csrf-token':
                 document.querySelector('meta[name=csrf-token]').content,
                 'content-type': 'application/json'}, body: '{"confirm": "dash-jobs"}'})).status"""
    )
    assert refused == 403


def tab_to(page: Page, focused: object, limit: int = 60) -> None:
    """Press Tab until ``focused()`` is true (fails after ``limit`` presses)."""
    check = focused if callable(focused) else None
    assert check is not None
    for _ in range(limit):
        page.keyboard.press("Tab")
        if check():
            return
    raise AssertionError("never reached the element with Tab")
