"""Copy a run's tables into docs/benchmarks.md (between its ``bench:`` markers).

    .venv/bin/python -m bench.peers.publish bench/results/peers-<time>.json

The results block gets the run's command, machine, versions and load, then every table
but the targets; the targets block gets the targets table.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from bench.peers.runner import REPO

DOC = REPO / "docs" / "benchmarks.md"


def _machine(run: dict[str, Any]) -> str:
    machine = run["machine"]
    versions = {**machine["versions"].get("peers", {}), **machine["versions"]["project"]}
    listed = ", ".join(f"{name} {version}" for name, version in sorted(versions.items()))
    return (
        f"Run of {run['started'][:16].replace('T', ' ')} UTC, `{run['command']}`, "
        f"{run['seconds'] / 60:.0f} minutes: {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gib']} GiB, Linux {machine['kernel']}, Python {machine['python']}, "
        f"RabbitMQ {machine['rabbitmq']}; {listed}. Load average (1, 5, 15 min) "
        f"{run['load_before']} before and {run['load_after']} after: the machine was shared "
        "with other test runs, so absolute figures are noisy."
    )


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"docs/benchmarks.md has no bench:{name} block")
    return pattern.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)


def main(argv: list[str]) -> None:
    source = Path(argv[0])
    run = json.loads(source.read_text())
    tables = source.with_suffix(".md").read_text()
    results, _, targets = tables.partition("### RabbitMQ issue targets\n")
    text = DOC.read_text()
    text = replace_block(text, "results", _machine(run) + "\n\n" + results.replace("### ", "#### "))
    if targets:
        text = replace_block(text, "targets", targets.strip())
    DOC.write_text(text)
    print(f"updated {DOC} from {source}")


if __name__ == "__main__":
    main(sys.argv[1:])
