"""The example extractor and the page runner follow the documented conventions."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.snippets import SnippetError, extract
from tests.docs.test_examples import ROOT, run_page

PAGE = """\
# A page

```python
x = 1
```

<!-- docs-test: skip shows a fragment -->
```python
undefined_name
```

```bash
echo not python
```

=== "Tab"

    ```py title="tabbed.py"
    y = x + 1
    ```

<!-- docs-test: needs rabbitmq,sqs talks to brokers -->

```python
z = y
```
"""


def test_python_blocks_are_found_with_their_line_numbers_and_directives() -> None:
    snippets = extract(PAGE, "docs/page.md")
    assert [(s.line, s.code) for s in snippets] == [
        (4, "x = 1\n"),
        (9, "undefined_name\n"),
        (19, "y = x + 1\n"),
        (25, "z = y\n"),
    ]
    assert snippets[1].skip_reason == "shows a fragment"
    assert snippets[3].needs == ("rabbitmq", "sqs")
    assert [s.runs_with(frozenset()) for s in snippets] == [True, False, True, False]
    assert snippets[3].runs_with(frozenset({"rabbitmq", "sqs"}))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<!-- docs-test: skip -->\n```python\nx\n```\n", "needs a reason"),
        ("<!-- docs-test: skipp typo -->\n```python\nx\n```\n", "unknown directive"),
        ("<!-- docs-test: needs -->\n```python\nx\n```\n", "takes broker names"),
        ("<!-- docs-test: skip why -->\ntext\n", "right before a code fence"),
        ("<!-- docs-test: skip why -->\n```bash\nls\n```\n", "apply to Python only"),
        ("```python\nx = 1\n", "never closed"),
    ],
)
def test_mistakes_in_the_conventions_are_errors(text: str, problem: str) -> None:
    with pytest.raises(SnippetError, match=problem):
        extract(text, "docs/page.md")


def _run(text: str, tmp_path: Path) -> tuple[int, str, str]:
    page = ROOT / "docs" / "page.md"
    result = run_page(page, extract(text, "docs/page.md"), tmp_path)
    return result.returncode, result.stdout, result.stderr


def test_a_page_shares_one_namespace_and_one_event_loop(tmp_path: Path) -> None:
    text = (
        "```python\nimport asyncio\nfuture = asyncio.Event()\n```\n\n"
        "```python\nfuture.set()\nawait future.wait()\nimport os\n"
        "assert os.environ['BROKERJOBS_BACKEND'] == 'memory'\n```\n"
    )
    code, out, err = _run(text, tmp_path)
    assert code == 0, err
    assert "docs-test: ran 2, compiled 2" in out


def test_a_failing_example_is_reported_at_its_markdown_line(tmp_path: Path) -> None:
    text = "# title\n\n```python\nx = 1\nraise RuntimeError('boom')\n```\n"
    code, _, err = _run(text, tmp_path)
    assert code == 1
    assert "the example at docs/page.md:4 failed" in err
    assert 'File "docs/page.md", line 5' in err
    assert "RuntimeError: boom" in err


def test_a_skipped_example_is_still_compiled(tmp_path: Path) -> None:
    code, _, err = _run("<!-- docs-test: skip why -->\n```python\ndef (:\n```\n", tmp_path)
    assert code == 1
    assert "does not compile" in err
