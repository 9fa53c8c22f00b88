"""Runs one page's examples in order in one namespace (``python -m tests.docs.run_page``).

Reads ``{"path": ..., "module": ..., "snippets": [{"line", "code", "run"}]}`` as JSON on
standard input. Each snippet is compiled with blank lines in front so that tracebacks
point at the Markdown file's own line numbers. Top-level ``await`` is allowed: such a
snippet runs on one event loop kept for the whole page (an object made in one snippet
can be awaited in the next). Prints ``docs-test: ran N, compiled M`` at the end.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import sys
import traceback
import types


def main() -> int:
    request = json.load(sys.stdin)
    path: str = request["path"]
    module = types.ModuleType(request["module"])
    module.__file__ = path
    sys.modules[module.__name__] = module
    loop = asyncio.new_event_loop()
    ran = compiled = 0
    try:
        for snippet in request["snippets"]:
            source = "\n" * (snippet["line"] - 1) + snippet["code"]
            where = f"{path}:{snippet['line']}"
            try:
                code = compile(source, path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            except SyntaxError:
                print(f"docs-test: the example at {where} does not compile", file=sys.stderr)
                traceback.print_exc()
                return 1
            compiled += 1
            if not snippet["run"]:
                continue
            try:
                result = eval(code, module.__dict__)  # noqa: S307 - our own documentation
                if inspect.isawaitable(result):
                    loop.run_until_complete(result)
            except BaseException:
                print(f"docs-test: the example at {where} failed", file=sys.stderr)
                traceback.print_exc()
                return 1
            ran += 1
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    print(f"docs-test: ran {ran}, compiled {compiled}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
