"""Speed of the Numba model against the readable per-agent reference, side by side in one run.

    python -m benchmarks.bench_model [--people 10000] [--steps 100] [--ref-steps 5]

Prints person-steps per second of: the Numba model (1 and 2 threads, each in its own process,
since Numba fixes its thread count at start), with and without daily recording; the plain
per-agent Mesa reference; and their ratio. Medians of repeated runs after a warm-up
(compilation is cached, so it is not counted). A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.worker import Plan, run_each


def reference_run(n: int, steps: int) -> float:
    from peerwell.simulation.params import ModelParams, with_overrides
    from peerwell.simulation.reference import ReferenceModel

    m = ReferenceModel(with_overrides(ModelParams(), {"population.size": n, "steps": steps}))
    t = time.perf_counter()
    for _ in range(steps):
        m.step()
    return time.perf_counter() - t


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--ref-steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    return ap.parse_args(argv)


def plan(a: argparse.Namespace, workdir: Path) -> tuple[Plan, dict]:
    """One task per thread count (both recording modes); nothing to prepare."""
    task = {"task": "model", "n": a.people, "steps": a.steps, "repeats": a.repeats}
    return {1: [task], 2: [dict(task)]}, {}


def report(a: argparse.Namespace, ctx: dict, results: Plan) -> dict:
    """Run the reference here, print the table, return the figures."""
    n = a.people
    print(
        f"peerwell model benchmark: {n:,} people, {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    rows = []
    for threads in (1, 2):
        r = results[threads][0]
        for mode in ("end", "daily"):
            rate = n * a.steps / r[mode]["seconds"]
            label = f"Numba kernels, {r['threads']} thread(s), {'daily recording' if mode == 'daily' else 'recording at end'}"
            rows.append({"label": label, "threads": r["threads"], "recording": mode, "rate": rate,
                         "mechanisms": r[mode]["mechanisms"]})  # fmt: skip
    ref_seconds = reference_run(n, a.ref_steps)
    ref_rate = n * a.ref_steps / ref_seconds
    rows.append({"label": "reference: plain per-agent Mesa", "rate": ref_rate})
    width = max(len(r["label"]) for r in rows)
    print(f"\n{'implementation':<{width}}  person-steps/s   × reference")
    for r in rows:
        r["ratio"] = r["rate"] / ref_rate
        print(f"{r['label']:<{width}}  {r['rate']:>14.3g}   {r['ratio']:>10.0f}")
    best = rows[2]  # 2 threads, recording at end
    one = rows[0]
    print(f"\n2 threads vs 1 thread: {best['rate'] / one['rate']:.2f}x")
    print("\nCPU time per day by submodel (2 threads, ms, over 3 more days):")
    mech = best["mechanisms"]
    for k, v in mech.items():
        print(f"  {k:<15} {1000 * v:8.3f}")
    print(f"  {'(sum)':<15} {1000 * statistics.fsum(mech.values()):8.3f}")
    return {"people": n, "steps": a.steps, "ref_steps": a.ref_steps, "repeats": a.repeats,
            "rows": rows, "reference_rate": ref_rate}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    a = parse(argv)
    with tempfile.TemporaryDirectory(prefix="peerwell-bench-") as tmp:
        tasks, ctx = plan(a, Path(tmp))
        return report(a, ctx, run_each(tasks))


if __name__ == "__main__":
    main()
