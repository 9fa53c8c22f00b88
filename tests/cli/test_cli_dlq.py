"""``brokerjobs dlq list|show|replay|purge`` against real dead letters in SQLite."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli, one_line_error
from tests.cli.test_cli_dlq_hostile import QUEUE, park_raw


def park(cli: Cli, count: int, why: str = "boom") -> list[str]:
    """Dispatch ``count`` failing jobs with max_attempts 1 and let a worker dead-letter them."""
    ids = []
    for i in range(count):
        result = cli(
            "dispatch",
            "clitest.Explode",
            "--app",
            "tests.cli.app",
            "--payload",
            json.dumps({"why": f"{why} {i}"}),
            "--max-attempts",
            "1",
        )
        ids.append(result.out.strip())
    worker = cli.start("consume", "--app", "tests.cli.app", "--queue", "cli-default")
    worker.next_lines(count)
    code, _ = worker.stop()
    assert code == 0
    return ids


def test_list_show_replay_purge(cli: Cli) -> None:
    ids = park(cli, 3)
    cli("dispatch", "clitest.Greet", "--app", "tests.cli.app", "--payload", '{"who": "x"}')

    listing = cli("dlq", "list", "cli-default")
    assert listing.code == 0
    rows = listing.out.splitlines()
    assert len(rows) == 3 and all(
        row.startswith("☠ ") and " clitest.Explode " in row for row in rows
    )
    assert cli("dlq", "list", "cli-default", "--filter", "job=Greet").out == ""
    as_json = [
        json.loads(line)
        for line in cli(
            "dlq", "list", "cli-default", "--json", "--filter", "job=clitest.Explode"
        ).out.splitlines()
    ]
    assert sorted(entry["message_id"] for entry in as_json) == sorted(ids)

    shown = cli("dlq", "show", "cli-default", ids[0][:12])
    assert shown.code == 0
    assert f"message id: {ids[0]}" in shown.out and '"job": "clitest.Explode"' in shown.out
    assert "attempts exhausted (1/1): RuntimeError: boom" in shown.out
    assert "Traceback" in shown.out  # the stored excerpt, shown on purpose
    assert cli("dlq", "show", "cli-default", "nope").code == 1

    replayed = cli("dlq", "replay", "cli-default", "--id", ids[0])
    assert replayed.code == 0 and "replayed 1 dead letter to" in replayed.out
    stats = json.loads(cli("stats", "--queue", "cli-default", "--json").out)["queues"][0]
    assert (stats["ready"], stats["dead"]) == (2, 2)

    refused = cli("dlq", "purge", "cli-default", input="n\n")
    assert refused.code == 1 and "Delete 2 dead letters" in refused.out
    purged = cli("dlq", "purge", "cli-default", "--yes")
    assert purged.code == 0 and "deleted 2 dead letters" in purged.out
    assert cli("dlq", "list", "cli-default").out == ""


def test_replay_everything_with_a_progress_bar(cli: Cli) -> None:
    park(cli, 2)
    result = cli("dlq", "replay", "cli-default")
    assert result.code == 0 and "replayed 2 dead letters" in result.out
    assert "replaying cli-default" in result.err
    stats = json.loads(cli("stats", "--queue", "cli-default", "--json").out)["queues"][0]
    assert (stats["ready"], stats["dead"]) == (2, 0)


def test_bad_filter_is_a_usage_error(cli: Cli) -> None:
    result = cli("dlq", "list", "cli-default", "--filter", "queue=x")
    assert result.code == 2 and "job=NAME" in result.err


def test_filter_matches_class_full_and_short_name_and_list_shows_the_full_name(
    cli: Cli,
) -> None:
    sent = cli("dispatch", "AlwaysFails", "--app", "tests.cli.app")
    assert sent.code == 0, sent.err
    park(cli, 1)  # an Explode beside it, which no filter below may match
    listed = cli("dlq", "list", "cli-default", "--filter", "job=nc.always-fails")
    assert listed.code == 0 and len(listed.out.splitlines()) == 1, listed.out
    assert f"☠ {sent.out.strip()[:8]}… nc.always-fails attempt 1 " in listed.out
    assert " clitest.Explode attempt 1 " in cli("dlq", "list", "cli-default").out
    for name in ("AlwaysFails", "nc.always-fails", "always-fails", "tests.cli.app.AlwaysFails"):
        found = cli(
            "dlq", "list", "cli-default", "--app", "tests.cli.app", "--filter", f"job={name}"
        )
        assert found.out == listed.out, (name, found.out, found.err)
    unknown_class = cli("dlq", "list", "cli-default", "--filter", "job=AlwaysFails")
    assert unknown_class.out == "" and "--app" in unknown_class.err  # class names need the module
    replayed = cli(
        "dlq", "replay", "cli-default", "--app", "tests.cli.app", "--filter", "job=AlwaysFails"
    )
    assert replayed.code == 0 and "replayed 1 dead letter to" in replayed.out, replayed.err


def test_replay_takes_the_id_prefix_list_prints_and_nothing_matched_exits_1(cli: Cli) -> None:
    ids = park(cli, 2)
    printed = cli("dlq", "list", "cli-default").out.split()[1].rstrip("…")
    assert len(printed) == 8 and any(i.startswith(printed) for i in ids)
    replayed = cli("dlq", "replay", "cli-default", "--id", printed)
    assert replayed.code == 0 and "replayed 1 dead letter to" in replayed.out, replayed.err
    stats = json.loads(cli("stats", "--queue", "cli-default", "--json").out)["queues"][0]
    assert (stats["ready"], stats["dead"]) == (1, 1)

    for selector in (["--id", "0000nope"], ["--filter", "job=Greet"], ["--id", printed]):
        nothing = cli("dlq", "replay", "cli-default", *selector)
        one_line_error(nothing)
        assert nothing.code == 1 and "no dead letter" in nothing.err, (selector, nothing.err)
    left = next(i for i in ids if not i.startswith(printed))
    mixed = cli("dlq", "replay", "cli-default", "--id", left, "--id", "0000nope")
    assert mixed.code == 1 and "'0000nope'" in mixed.err  # a typo replays nothing
    stats = json.loads(cli("stats", "--queue", "cli-default", "--json").out)["queues"][0]
    assert stats["dead"] == 1
    purged = cli("dlq", "purge", "cli-default", "--yes")
    assert purged.code == 0 and "deleted 1 dead letter from" in purged.out, purged.out


def test_an_ambiguous_id_prefix_is_refused(cli: Cli) -> None:
    ids = park_raw(cli, [b"one", b"two"], ids=["abc1" + "0" * 28, "abc2" + "0" * 28])
    for command in (["show"], ["replay", "--id"]):
        refused = cli("dlq", *command[:1], QUEUE, *command[1:], "abc")
        one_line_error(refused)
        assert refused.code == 1 and "2 dead letters have ids starting with 'abc'" in refused.err
    shown = cli("dlq", "show", QUEUE, "abc2")
    assert shown.code == 0 and f"message id: {ids[1]}" in shown.out
