"""Import time of brokerjobs, as ratios against references measured in the same run.

    .venv/bin/python bench/import_time.py [--runs 10] [--python PATH]
                                          [--bytecode both|cached|none] [--compare DIR]

Each statement runs in a fresh interpreter (``python -c STATEMENT``), ``--runs`` times,
interleaved so that a burst of load on the machine hits every statement alike; the median
wall time is reported. ``net`` is the median minus the median of ``python -c pass`` (the
interpreter's own start-up): issue #4's target (≤ 150 ms) is about that figure.

Two set-ups, because they differ by a factor of two or more:

* ``cached``: compiled bytecode available, as after ``pip install`` (which compiles it)
  or in a worker image. The ``.pyc`` files go to a private temporary
  ``PYTHONPYCACHEPREFIX``, so the benchmark writes nothing into the venv or the tree.
* ``none``: no bytecode at all (``PYTHONDONTWRITEBYTECODE=1`` and a venv installed
  without ``--compile-bytecode``, uv's default): every module is compiled from source on
  every start. This is how the development venv runs.

Absolute milliseconds move with the machine; ratios move much less: ``× pass`` is the
whole command against a bare interpreter, ``× BaseModel`` is the net import time against
the net time of ``from pydantic import BaseModel``, the floor for anything that defines
a job (jobs are pydantic models).

``--compare DIR`` also times the brokerjobs statements with ``DIR`` as the working
directory, so that a ``brokerjobs`` package there (e.g. an older commit unpacked with
``git archive COMMIT brokerjobs | tar -x -C DIR``) shadows the installed one: a
before/after comparison in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REFERENCE = "from pydantic import BaseModel"
STATEMENTS = [
    "pass",
    "import pydantic",
    REFERENCE,
    "import brokerjobs",
    "from brokerjobs import Job, dispatch",
    "import brokerjobs.cli",
]


def wall_time(python: str, statement: str, env: dict[str, str], cwd: str | None = None) -> float:
    """Seconds for one fresh interpreter to run ``statement`` (in ``cwd``) and exit."""
    started = time.perf_counter()
    subprocess.run([python, "-c", statement], check=True, env=env, cwd=cwd)
    return time.perf_counter() - started


def environment(bytecode: str, cache_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    if bytecode == "cached":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache_dir
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def measure(python: str, runs: int, env: dict[str, str], compare: str | None) -> dict[str, float]:
    """Median milliseconds per statement (label)."""
    cases = [(statement, statement, None) for statement in STATEMENTS]
    if compare is not None:
        cases += [
            (f"{statement} [compare]", statement, compare)
            for statement in STATEMENTS
            if "brokerjobs" in statement
        ]
    for _, statement, cwd in cases:  # fill the bytecode cache (when on) and the page cache
        wall_time(python, statement, env, cwd)
    samples: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    for _ in range(runs):
        for label, statement, cwd in cases:
            samples[label].append(wall_time(python, statement, env, cwd))
    return {label: statistics.median(times) * 1000 for label, times in samples.items()}


def report(title: str, median: dict[str, float]) -> None:
    baseline = median["pass"]
    reference = median[REFERENCE] - baseline
    print(title)
    print(f"  {'statement':<49} {'ms':>7} {'net ms':>7} {'× pass':>7} {'× BaseModel':>11}")
    for statement, ms in median.items():
        net = ms - baseline
        print(
            f"  {statement:<49} {ms:>7.1f} {net:>7.1f} {ms / baseline:>7.2f} "
            f"{net / reference if reference > 0 else float('nan'):>11.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--bytecode", choices=["both", "cached", "none"], default="both")
    parser.add_argument("--compare", metavar="DIR", help="also time a brokerjobs package in DIR")
    args = parser.parse_args()
    modes = ["cached", "none"] if args.bytecode == "both" else [args.bytecode]
    print(f"median of {args.runs} fresh interpreters ({args.python})")
    with tempfile.TemporaryDirectory(prefix="brokerjobs-pyc-") as cache_dir:
        for mode in modes:
            env = environment(mode, cache_dir)
            median = measure(args.python, args.runs, env, args.compare)
            report(f"bytecode {mode}:", median)


if __name__ == "__main__":
    main()
