"""This checkout against another, side by side in one run: the same model, the same machine.

    python -m benchmarks.versus /path/to/other/checkout [--people 1000000] [--days 365] [--rounds 3]

A change that should not touch speed (a refactor) is judged against the commit before it: each
round runs the full model (build, then ``--days`` days at ``--people`` people, 2 Numba threads,
``worker.task_scale``) once in each checkout, each in a fresh process with that checkout's own
``.venv``, in alternating order, so that drift of a shared machine falls on both sides. It prints
each round's ratios (this checkout / the other) of the wall time, the median day and the peak
memory, their median and range, and whether the two produced the same trajectories to the bit
(the digest of the trajectory table): a refactor should.

The other checkout needs a built ``.venv`` (``make venv`` there). Its worker is run as
``python -m benchmarks.worker`` or, in checkouts from before ``benchmarks/`` was a package, as
``python benchmarks/worker.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def worker_command(checkout: Path, task: dict) -> list[str]:
    """How to run ``task`` in ``checkout``'s own environment."""
    python = checkout / ".venv" / "bin" / "python"
    if not python.exists():
        sys.exit(f"versus: {python} does not exist; run `make venv` in {checkout} first")
    if (checkout / "benchmarks" / "__init__.py").exists():
        entry = ["-m", "benchmarks.worker"]
    else:
        entry = [str(checkout / "benchmarks" / "worker.py")]
    return [str(python), *entry, json.dumps([task])]


def run_once(checkout: Path, task: dict) -> dict:
    """One fresh 2-thread process of ``checkout`` running ``task``; its result."""
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    out = subprocess.run(
        worker_command(checkout, task), cwd=checkout, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        sys.exit(f"versus: the worker in {checkout} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])[0]


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}–{max(values):.3f}]"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("other", type=Path, help="the other checkout (with a built .venv)")
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--degree", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args(argv)
    other = a.other.resolve()
    task = {"task": "scale", "n": a.people, "degree": a.degree, "steps": a.days}
    rows = []
    for r in range(a.rounds):
        # Alternate who goes first: a machine that slows down (or speeds up) over the run
        # then weighs on both sides alike.
        order = [("this", HERE), ("other", other)]
        if r % 2:
            order.reverse()
        got = {name: run_once(path, task) for name, path in order}
        row = {
            "round": r + 1,
            "first": order[0][0],
            "total_s": (got["this"]["total_s"], got["other"]["total_s"]),
            "day_s": (got["this"]["day_s"], got["other"]["day_s"]),
            "peak_mb": (got["this"]["peak_mb"], got["other"]["peak_mb"]),
            "same_trajectories": got["this"]["digest"] == got["other"]["digest"],
        }
        rows.append(row)
        print(
            f"round {r + 1} ({row['first']} first): wall {row['total_s'][0]:.1f} s vs "
            f"{row['total_s'][1]:.1f} s, day {1000 * row['day_s'][0]:.1f} ms vs "
            f"{1000 * row['day_s'][1]:.1f} ms, peak {row['peak_mb'][0]:.0f} MB vs "
            f"{row['peak_mb'][1]:.0f} MB, same trajectories: {row['same_trajectories']}",
            flush=True,
        )
    print(f"\nthis checkout ({HERE}) / the other ({other}), {a.people:,} people, {a.days} days:")
    for key, label in (
        ("total_s", "wall time"),
        ("day_s", "median day"),
        ("peak_mb", "peak memory"),
    ):
        print(f"  {label:12s} {spread([x[key][0] / x[key][1] for x in rows])}")
    same = all(x["same_trajectories"] for x in rows)
    print(f"  trajectories identical to the bit in every round: {same}")
    return {"rows": rows, "same_trajectories": same}


if __name__ == "__main__":
    main()
