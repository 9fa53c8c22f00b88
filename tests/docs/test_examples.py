"""Every Python example in docs/ runs (see tests/docs/snippets.py for the conventions).

One test per page: its examples run in order in a fresh interpreter with the in-memory
backend as the default, from a scratch working directory. Examples marked
``<!-- docs-test: needs rabbitmq -->`` run too when ``BROKERJOBS_DOCS_BROKERS`` lists the
broker; otherwise they are only compiled.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.snippets import Snippet, page_snippets

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGE_TIMEOUT = 60.0


def _available_brokers() -> frozenset[str]:
    listed = os.environ.get("BROKERJOBS_DOCS_BROKERS", "")
    return frozenset(name.strip() for name in listed.split(",") if name.strip())


def _pages() -> list[Path]:
    return sorted(path for path in DOCS.rglob("*.md") if page_snippets(DOCS, path))


def _module_name(page: Path) -> str:
    stem = page.relative_to(DOCS).with_suffix("").as_posix()
    return "docs_page_" + re.sub(r"\W", "_", stem)


def _environment(scratch: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BROKERJOBS_", "OTEL_"))
    }
    env["BROKERJOBS_BACKEND"] = "memory"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["HOME"] = str(scratch)
    if os.environ.get("BROKERJOBS_DOCS_BROKERS"):
        env["BROKERJOBS_DOCS_BROKERS"] = os.environ["BROKERJOBS_DOCS_BROKERS"]
    return env


def run_page(
    page: Path, snippets: list[Snippet], scratch: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``snippets`` of ``page`` in a fresh interpreter; the completed process."""
    brokers = _available_brokers()
    request = {
        "path": page.relative_to(ROOT).as_posix(),
        "module": _module_name(page),
        "snippets": [
            {"line": s.line, "code": s.code, "run": s.runs_with(brokers)} for s in snippets
        ],
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.docs.run_page"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=scratch,
        env=_environment(scratch),
        timeout=PAGE_TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize("page", _pages(), ids=lambda page: page.relative_to(DOCS).as_posix())
def test_page_examples_run(page: Path, tmp_path: Path) -> None:
    snippets = page_snippets(DOCS, page)
    expected = sum(snippet.runs_with(_available_brokers()) for snippet in snippets)
    result = run_page(page, snippets, tmp_path)
    assert result.returncode == 0, (
        f"an example of {page.relative_to(ROOT)} failed\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}"
    )
    assert f"docs-test: ran {expected}, compiled {len(snippets)}" in result.stdout


def test_the_guide_has_runnable_examples() -> None:
    """Guards against the extractor silently finding nothing (a changed fence style...)."""
    pages = {page.relative_to(DOCS).as_posix() for page in _pages()}
    assert {"getting-started.md", "jobs.md", "dispatching.md", "testing.md"} <= pages
    runnable = [
        snippet
        for page in _pages()
        for snippet in page_snippets(DOCS, page)
        if snippet.skip_reason is None and not snippet.needs
    ]
    assert len(runnable) >= 20
