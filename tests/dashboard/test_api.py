"""The dashboard's JSON API on memory, SQLite and RabbitMQ: reads, replay, purge, refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from brokerjobs import dead_letter_ops as ops
from brokerjobs.backend import Backend
from tests.dashboard.support import TOKEN, bearer, client, csrf_of, envelope, park
from tests.support.harness import BackendHarness


async def test_queues_and_dead_letters_read_as_the_cli_does(
    api_harness: BackendHarness, api_backend: Backend
) -> None:
    queue = api_harness.queue("mail")
    ids = await park(
        api_backend, queue, [envelope("app.jobs.SendEmail", {"to": i}, queue) for i in range(3)]
    )
    http, _ = client(api_backend, [queue])
    async with http:
        stats = (await http.get("/api/queues", headers=bearer())).json()
        assert [(q["queue"], q["dead"]) for q in stats["queues"]] == [(queue, 3)]
        listed = (await http.get(f"/api/queues/{queue}/dead-letters", headers=bearer())).json()
        cli_rows = await ops.listing(api_backend, queue, None, 50)
        assert [d["message_id"] for d in listed["dead_letters"]] == [d.message_id for d in cli_rows]
        assert sorted(d["message_id"] for d in listed["dead_letters"]) == sorted(ids)
        assert {d["job"] for d in listed["dead_letters"]} == {"app.jobs.SendEmail"}
        one = (
            await http.get(f"/api/queues/{queue}/dead-letters/{ids[0]}", headers=bearer())
        ).json()
        assert (
            one["body"]["kind"] == "json" and '"job": "app.jobs.SendEmail"' in one["body"]["text"]
        )
        assert one["reason"].startswith("RuntimeError: boom")
        gone = await http.get(f"/api/queues/{queue}/dead-letters/nope", headers=bearer())
        assert gone.status_code == 404
        unknown = await http.get("/api/queues/not-shown/dead-letters", headers=bearer())
        assert unknown.status_code == 400 and "not shown" in unknown.json()["error"]


async def test_replay_one_then_all(api_harness: BackendHarness, api_backend: Backend) -> None:
    queue = api_harness.queue("replay")
    ids = await park(api_backend, queue, [envelope("app.Job", {"n": i}, queue) for i in range(3)])
    http, _ = client(api_backend, [queue])
    async with http:
        headers = {**bearer(), "x-csrf-token": await csrf_of(http)}
        one = await http.post(
            f"/api/queues/{queue}/dead-letters/replay", json={"ids": [ids[1]]}, headers=headers
        )
        assert one.status_code == 200 and one.json() == {"queue": queue, "replayed": 1}
        after = await api_backend.stats(queue)
        assert (after.ready, after.dead) == (1, 2)
        remaining = {d.message_id for d in await api_backend.dead_letters(queue)}
        assert remaining == {ids[0], ids[2]}
        everything = await http.post(
            f"/api/queues/{queue}/dead-letters/replay", json={"all": True}, headers=headers
        )
        assert everything.json()["replayed"] == 2
        assert (await api_backend.stats(queue)).dead == 0
        vague = await http.post(
            f"/api/queues/{queue}/dead-letters/replay", json={}, headers=headers
        )
        assert vague.status_code == 400


async def test_purge_needs_the_queue_name_typed(
    api_harness: BackendHarness, api_backend: Backend
) -> None:
    queue = api_harness.queue("purge")
    await park(api_backend, queue, [b"not json", b"{}"])
    http, _ = client(api_backend, [queue])
    async with http:
        headers = {**bearer(), "x-csrf-token": await csrf_of(http)}
        url = f"/api/queues/{queue}/dead-letters/purge"
        for body in ({}, {"confirm": "yes"}, {"confirm": queue + "x"}):
            refused = await http.post(url, json=body, headers=headers)
            assert refused.status_code == 400 and "type the queue name" in refused.json()["error"]
        assert (await api_backend.stats(queue)).dead == 2
        purged = await http.post(url, json={"confirm": queue}, headers=headers)
        assert purged.json() == {"queue": queue, "deleted": 2}
        assert (await api_backend.stats(queue)).dead == 0


async def test_no_access_without_a_credential(
    api_harness: BackendHarness, api_backend: Backend
) -> None:
    queue = api_harness.queue("auth")
    http, _ = client(api_backend, [queue])
    async with http:
        assert (await http.get("/api/queues")).status_code == 401
        assert (await http.get("/api/queues", headers=bearer("wrong"))).status_code == 401
        page = await http.get("/queues")
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert (await http.get(f"/queues/{queue}/dead-letters")).status_code == 303
        assert (await http.get("/static/dashboard.js")).status_code == 200  # no secret in it


async def test_state_changes_need_the_csrf_token_and_the_same_origin(
    api_harness: BackendHarness, api_backend: Backend
) -> None:
    queue = api_harness.queue("csrf")
    ids = await park(api_backend, queue, [b"x"])
    http, _ = client(api_backend, [queue])
    async with http:
        token = await csrf_of(http)
        url = f"/api/queues/{queue}/dead-letters/replay"
        body = {"ids": ids}
        attempts = [
            bearer(),
            {**bearer(), "x-csrf-token": "0" * 64},
            {**bearer(), "x-csrf-token": token, "origin": "http://evil.example"},
        ]
        for headers in attempts:
            refused = await http.post(url, json=body, headers=headers)
            assert refused.status_code == 403, headers
        purge = await http.post(
            f"/api/queues/{queue}/dead-letters/purge", json={"confirm": queue}, headers=bearer()
        )
        assert purge.status_code == 403 and "CSRF" in purge.json()["error"]
        assert (await api_backend.stats(queue)).dead == 1
        same_origin = {**bearer(), "x-csrf-token": token, "origin": "http://127.0.0.1:8765"}
        assert (await http.post(url, json=body, headers=same_origin)).json()["replayed"] == 1


async def test_read_only_mode_refuses_replay_and_purge(
    api_harness: BackendHarness, api_backend: Backend
) -> None:
    queue = api_harness.queue("ro")
    await park(api_backend, queue, [b"x"])
    http, _ = client(api_backend, [queue], read_only=True)
    async with http:
        headers = {**bearer(), "x-csrf-token": await csrf_of(http)}
        for action, body in (("replay", {"all": True}), ("purge", {"confirm": queue})):
            refused = await http.post(
                f"/api/queues/{queue}/dead-letters/{action}", json=body, headers=headers
            )
            assert refused.status_code == 403 and "read-only" in refused.json()["error"]
        page = await http.get(f"/queues/{queue}/dead-letters", headers=bearer())
        assert page.status_code == 200 and "read-only" in page.text
        assert "data-replay" not in page.text and "data-purge" not in page.text
        assert (await api_backend.stats(queue)).dead == 1


async def test_filters_and_pages(api_harness: BackendHarness, api_backend: Backend) -> None:
    queue = api_harness.queue("pages")
    bodies = [envelope("app.jobs.Resize", {"n": i}, queue) for i in range(7)]
    bodies += [envelope("app.jobs.SendEmail", {"n": i}, queue) for i in range(3)]
    await park(api_backend, queue, bodies)
    http, _ = client(api_backend, [queue], page_size=4)
    async with http:
        url = f"/api/queues/{queue}/dead-letters"

        async def get(**params: str) -> dict[str, object]:
            document: dict[str, object] = (
                await http.get(url, params=params, headers=bearer())
            ).json()
            return document

        first, third = await get(), await get(page="3")
        assert len(first["dead_letters"]) == 4 and first["has_next"] is True  # type: ignore[arg-type]
        assert len(third["dead_letters"]) == 2 and third["has_next"] is False  # type: ignore[arg-type]
        mail = await get(job="SendEmail")
        assert mail["matched"] == 3
        assert all(d["job"] == "app.jobs.SendEmail" for d in mail["dead_letters"])  # type: ignore[attr-defined]
        assert (await get(reason="BOOM"))["matched"] == 10
        assert (await get(reason="no such text"))["matched"] == 0
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert (await get(since=future))["matched"] == 0
        bad = await http.get(url, params={"since": "yesterday"}, headers=bearer())
        assert bad.status_code == 400


async def test_hostile_bodies_are_escaped_and_capped(
    api_harness: BackendHarness, api_backend: Backend
) -> None:
    queue = api_harness.queue("hostile")
    script = "<script>document.title='pwned'</script>"
    deep = b"[" * 20_000 + b"]" * 20_000  # under the size cap: the parser refuses it
    huge = json.dumps({"job": "x", "blob": "A" * 200_000}).encode()
    bodies = [
        envelope("app.jobs.Evil", {"html": script}, queue),
        f"<img src=x onerror=alert(1)>{script}".encode(),
        deep,
        huge,
        b"\xff\xfe" + script.encode(),
    ]
    ids = await park(api_backend, queue, bodies, reason=f"ValueError: {script}")
    http, _ = client(api_backend, [queue], body_limit=64 * 1024)
    async with http:
        listing = await http.get(f"/queues/{queue}/dead-letters", headers=bearer())
        assert listing.status_code == 200
        assert "<script>document" not in listing.text and "&lt;script&gt;" in listing.text
        assert "script-src 'self'" in listing.headers["content-security-policy"]
        for message_id, body in zip(ids, bodies, strict=True):
            page = await http.get(f"/queues/{queue}/dead-letters/{message_id}", headers=bearer())
            assert page.status_code == 200
            assert "<script>document" not in page.text and "<img src" not in page.text
            assert len(page.text) < 64 * 1024 * 2 + 20_000  # capped, not the whole body
            one = (
                await http.get(f"/api/queues/{queue}/dead-letters/{message_id}", headers=bearer())
            ).json()
            assert one["body"]["size"] == len(body)
        kinds = [
            (await http.get(f"/api/queues/{queue}/dead-letters/{i}", headers=bearer())).json()[
                "body"
            ]
            for i in ids
        ]
        assert [k["kind"] for k in kinds] == ["json", "text", "text", "text", "bytes"]
        assert kinds[2]["truncated"] is False and kinds[3]["truncated"] is True


async def test_basic_auth(api_harness: BackendHarness, api_backend: Backend) -> None:
    queue = api_harness.queue("basic")
    http, _ = client(api_backend, [queue], token=None, username="ops", password="s3cret-pass")
    async with http:
        assert (await http.get("/api/queues", auth=("ops", "s3cret-pass"))).status_code == 200
        wrong = await http.get("/api/queues", auth=("ops", "nope"))
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")
        page = await http.get("/queues")  # a browser then asks for the password itself
        assert page.status_code == 401 and page.headers["www-authenticate"].startswith("Basic")
        assert (await http.get("/api/queues", headers=bearer(TOKEN))).status_code == 401


async def test_login_sets_a_session_cookie(
    api_harness: BackendHarness, api_backend: Backend
) -> None:
    queue = api_harness.queue("login")
    ids = await park(api_backend, queue, [b"x"])
    http, _ = client(api_backend, [queue])
    async with http:
        assert (await http.post("/login", data={"token": "wrong"})).status_code == 401
        foreign = {"origin": "http://evil.example"}
        refused = await http.post("/login", data={"token": TOKEN}, headers=foreign)
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
        logged_in = await http.post("/login", data={"token": TOKEN})
        assert (
            logged_in.status_code == 303 and "httponly" in logged_in.headers["set-cookie"].lower()
        )
        assert (await http.get("/queues")).status_code == 200  # the cookie is sent now
        page = await http.get(f"/queues/{queue}/dead-letters")
        marker = 'name="csrf-token" content="'
        csrf = page.text.split(marker, 1)[1].split('"', 1)[0]
        url = f"/api/queues/{queue}/dead-letters/replay"
        assert (await http.post(url, json={"ids": ids})).status_code == 403
        replayed = await http.post(url, json={"ids": ids}, headers={"x-csrf-token": csrf})
        assert replayed.json()["replayed"] == 1
