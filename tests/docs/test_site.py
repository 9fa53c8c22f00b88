"""The documentation site builds with ``mkdocs build --strict``, and its nav stays tolerant."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "docs" / "_hooks" / "tolerant_nav.py"


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tolerant_nav", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_strict_build_passes(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "index.html").is_file()
    assert (tmp_path / "wire-format" / "envelope.schema.json").is_file()
    assert (tmp_path / "getting-started" / "index.html").is_file()
    assert not (tmp_path / "_hooks").exists()


def test_missing_pages_leave_the_nav_and_unlisted_pages_join_it(tmp_path: Path) -> None:
    hook = _hook()
    (tmp_path / "backends").mkdir()
    (tmp_path / "_hooks").mkdir()
    pages = ["index.md", "jobs.md", "faq.md", "backends/index.md", "backends/redis.md"]
    for page in [*pages, "_hooks/notes.md"]:
        (tmp_path / page).write_text(f"# {Path(page).stem.title()} page\n")
    nav = [
        {"Home": "index.md"},
        {"Guide": [{"Jobs": "jobs.md"}, {"Worker": "worker.md"}]},
        {"Later": [{"Benchmarks": "benchmarks.md"}]},
        {"Backends": [{"Overview": "backends/index.md"}, {"SQS": "backends/sqs.md"}]},
        {"Site": "https://example.org/"},
    ]
    pruned = hook.add_unlisted(hook.prune(nav, tmp_path), tmp_path)
    assert pruned == [
        {"Home": "index.md"},
        {"Guide": [{"Jobs": "jobs.md"}]},
        {"Backends": [{"Overview": "backends/index.md"}, {"Redis page": "backends/redis.md"}]},
        {"Site": "https://example.org/"},
        {"More": [{"Faq page": "faq.md"}]},
    ]


def test_the_nav_names_every_page_of_the_issue() -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    pages = _hook().listed_pages(config["nav"])
    planned = {
        "getting-started.md",
        "jobs.md",
        "dispatching.md",
        "worker.md",
        "cli.md",
        "retries-and-dead-letters.md",
        "testing.md",
        "backends/index.md",
        "observability.md",
        "reliability.md",
        "wire-format.md",
        "writing-a-backend.md",
        "architecture.md",
        "benchmarks.md",
        "docker.md",
    }
    assert planned <= pages


def test_links_to_planned_pages_wait_for_them_and_other_links_stay() -> None:
    hook = _hook()
    markdown = (
        "See [the worker](../worker.md#options), [SQS](sqs.md), [jobs](../jobs.md) "
        "and ![a picture](sqs.md)."
    )
    missing = {"worker.md", "backends/sqs.md"}
    assert hook.unlink_missing(markdown, "backends/index.md", missing) == (
        "See the worker, SQS, [jobs](../jobs.md) and ![a picture](sqs.md)."
    )
