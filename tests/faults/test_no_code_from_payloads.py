"""Nothing in the shipped code deserialises with pickle/marshal or evaluates content.

An AST scan (not a grep, so docstrings that *mention* pickle do not count) of the core
and every backend: no import of pickle, marshal, shelve, dill, jsonpickle; no call to
eval, exec, compile; no yaml.load/unsafe_load. Dynamic imports exist only where an
operator names a module (``--app``, ``brokerjobs dispatch a.b.Job``) or for optional
exporters with a constant name; never on the consume path, where job names are looked up
in the registry only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [ROOT / "brokerjobs", *sorted(ROOT.glob("backends/*/brokerjobs_*"))]
FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "jsonpickle"}
FORBIDDEN_CALLS = {"eval", "exec", "compile"}
FORBIDDEN_ATTRIBUTES = {("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load")}
DYNAMIC_IMPORTS_ALLOWED = {
    "brokerjobs/__init__.py",  # lazy re-exports (PEP 562), constant module names
    "brokerjobs/cli/common.py",  # --app modules named by the operator
    "brokerjobs/cli/dispatch_cmd.py",  # `brokerjobs dispatch pkg.module.Job`
    "brokerjobs/telemetry/sdk.py",  # optional OTLP exporter, constant module names
}

pytestmark = pytest.mark.faults


def sources() -> list[Path]:
    files = [path for package in PACKAGES for path in package.rglob("*.py")]
    assert len(files) > 40, f"expected the whole code base, found {len(files)} files"
    return files


def findings(path: Path, relative: str | None = None) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = relative or path.relative_to(ROOT).as_posix()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {(node.module or "").split(".")[0]}
        else:
            names = set()
        for name in names & FORBIDDEN_MODULES:
            found.append(f"{relative}:{getattr(node, 'lineno', 0)} imports {name}")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
            found.append(f"{relative}:{node.lineno} calls {func.id}()")
        owner = (
            func.value.id
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            else ""
        )
        if isinstance(func, ast.Attribute) and (owner, func.attr) in FORBIDDEN_ATTRIBUTES:
            found.append(f"{relative}:{node.lineno} calls {owner}.{func.attr}()")
        dynamic = (isinstance(func, ast.Name) and func.id == "__import__") or (
            isinstance(func, ast.Attribute) and func.attr == "import_module"
        )
        if dynamic and relative not in DYNAMIC_IMPORTS_ALLOWED:
            found.append(f"{relative}:{node.lineno} imports a module chosen at run time")
    return found


def test_no_unsafe_deserialisation_or_evaluation_anywhere() -> None:
    problems = [problem for path in sources() for problem in findings(path)]
    assert not problems, "\n".join(problems)


def test_the_scan_would_catch_each_pattern(tmp_path: Path) -> None:
    """The checker is not vacuous: each forbidden pattern is reported."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import pickle\nfrom marshal import loads\nimport yaml\nimport importlib\n"
        "eval('1')\nexec('x=1')\nyaml.load('a')\nimportlib.import_module('os')\n"
    )
    reported = findings(sample, "brokerjobs/worker/sample.py")
    assert len(reported) == 6, reported
