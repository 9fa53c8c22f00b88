"""Import time of brokerjobs, as ratios against references measured in the same run.

    .venv/bin/python bench/import_time.py [--runs 10] [--python PATH]
                                          [--bytecode both|cached|none] [--compare DIR]

Each statement runs in a fresh interpreter (``python -c STATEMENT``), ``--runs`` times,
interleaved so that a burst of load on the machine hits every statement alike. Reported:
the median wall time, and the median CPU time (user + system) of the child, which moves
much less when other processes compete for the cores; ``net`` is a median minus that of
``python -c pass`` (the interpreter's own start-up). Issue #4's target (≤ 150 ms) is
about the net wall time on a quiet machine.

Two set-ups, because they differ by a factor of two or more:

* ``cached``: compiled bytecode available, as after ``pip install`` (which compiles it)
  or in a worker image. The ``.pyc`` files go to a private temporary
  ``PYTHONPYCACHEPREFIX``, so the benchmark writes nothing into the venv or the tree.
* ``none``: no bytecode at all (``PYTHONDONTWRITEBYTECODE=1`` and a venv installed
  without ``--compile-bytecode``, uv's default): every module is compiled from source on
  every start. This is how the development venv runs.

Absolute milliseconds move with the machine; ratios move much less. ``× pass`` is the
whole command's CPU time against a bare interpreter's; ``× model`` is the net CPU time
against that of importing pydantic and defining one model (the first model class also
loads pydantic's plugin machinery): the floor for anything that defines a job, since
jobs are pydantic models.

``--compare DIR`` also times the brokerjobs statements with ``DIR`` as the working
directory, so that a ``brokerjobs`` package there (e.g. an older commit unpacked with
``git archive COMMIT brokerjobs | tar -x -C DIR``) shadows the installed one: a
before/after comparison in the same run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REFERENCE = "from pydantic import BaseModel\nclass Model(BaseModel):\n    x: int"
STATEMENTS = [
    "pass",
    "import pydantic",
    "from pydantic import BaseModel",
    REFERENCE,
    "import brokerjobs",
    "from brokerjobs import Job, dispatch",
    "import brokerjobs.cli",
]


def run_once(
    python: str, statement: str, env: dict[str, str], cwd: str | None = None
) -> tuple[float, float]:
    """Wall and CPU seconds for one fresh interpreter to run ``statement`` (in ``cwd``)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([python, "-c", statement], check=True, env=env, cwd=cwd)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def environment(bytecode: str, cache_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    if bytecode == "cached":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache_dir
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def measure(
    python: str, runs: int, env: dict[str, str], compare: str | None
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU milliseconds per statement (label)."""
    cases: list[tuple[str, str, str | None]] = [(s, s, None) for s in STATEMENTS]
    if compare is not None:
        cases += [
            (f"{statement} [compare]", statement, compare)
            for statement in STATEMENTS
            if "brokerjobs" in statement
        ]
    for _, statement, cwd in cases:  # fill the bytecode cache (when on) and the page cache
        run_once(python, statement, env, cwd)
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in cases}
    for _ in range(runs):
        for label, statement, cwd in cases:
            samples[label].append(run_once(python, statement, env, cwd))
    return {
        label: (
            statistics.median(wall for wall, _ in times) * 1000,
            statistics.median(cpu for _, cpu in times) * 1000,
        )
        for label, times in samples.items()
    }


def report(title: str, median: dict[str, tuple[float, float]]) -> None:
    wall_pass, cpu_pass = median["pass"]
    reference = median[REFERENCE][1] - cpu_pass
    print(title)
    print(
        f"  {'statement':<49} {'wall ms':>8} {'net':>7} {'cpu ms':>7} {'net':>7}"
        f" {'× pass':>7} {'× model':>8}"
    )
    for label, (wall, cpu) in median.items():
        net = cpu - cpu_pass
        shown = "pydantic model (reference)" if label == REFERENCE else label
        print(
            f"  {shown:<49} {wall:>8.1f} {wall - wall_pass:>7.1f} {cpu:>7.1f} {net:>7.1f}"
            f" {cpu / cpu_pass:>7.2f} {net / reference if reference > 0 else float('nan'):>8.2f}"
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
