"""Performance at scale: the full model at up to a million people, measured side by side.

    python -m benchmarks.bench_scale [--sizes 10000,100000,1000000] [--degree 20] [--year]

For each size, in a fresh process per thread count (Numba fixes its threads at start):
building the population and network, the time of a full model day (every mechanism on, daily
recording), a bare float64 neighbour gather over the same CSR graph (the floor of any model that
reads its neighbours) and their ratio, the cost per tie, 1 vs 2 threads with a check that the
trajectories are bit-identical, and the peak memory. Each timed day is followed by one bare gather
(runs of up to 200 days), so the day/gather ratio is reported as the median of the days' own
ratios with their middle 90%. At the largest size, what recording a day costs: the population's
aggregates (trajectories.parquet) against the groups' table (groups.parquet), timed in turn, as
the median of the pairs' ratios. ``--year`` also runs 365 days at the
largest size, wall clock including the build. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import tempfile
from pathlib import Path

from benchmarks.worker import Plan, run_each


def steps_for(n: int) -> int:
    return 40 if n >= 1_000_000 else 60 if n >= 100_000 else 200


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--degree", type=float, default=20.0)
    ap.add_argument("--year", action="store_true", help="also run 365 days at the largest size")
    ap.add_argument("--steps", type=int, default=0,
                    help="days per size (default: 200 below 100k people, 60 below 1M, 40 at 1M)")  # fmt: skip
    a = ap.parse_args(argv)
    a.sizes = [int(s) for s in str(a.sizes).split(",")]
    return a


def plan(a: argparse.Namespace, workdir: Path) -> tuple[Plan, dict]:
    """Per thread count, one task per size; the year (2 threads, largest size) last."""
    tasks: Plan = {
        t: [{"task": "scale", "n": n, "degree": a.degree, "steps": a.steps or steps_for(n)}
            for n in a.sizes]
        for t in (1, 2)
    }  # fmt: skip
    if a.year:
        tasks[2].append({"task": "scale", "n": a.sizes[-1], "degree": a.degree, "steps": 365})
    return tasks, {}


def _ratio(spread: dict) -> str:
    """A day/gather ratio: the median of the days' own ratios and their middle 90%."""
    return f"{spread['median']:.2f} [{spread['p5']:.2f}-{spread['p95']:.2f}]"


def report(a: argparse.Namespace, ctx: dict, results: Plan) -> dict:
    sizes = a.sizes
    out = {"sizes": sizes, "degree": a.degree, "rows": [], "pairs": [], "year": None}
    print(f"{'people':>10} {'threads':>7} {'ties':>11} {'build s':>8} {'day ms':>8} {'gather ms':>9} "
          f"{'day/gather median [5-95%]':>26} {'ns/tie':>7} {'peak MB':>8}")  # fmt: skip
    for k, n in enumerate(sizes):
        per = {t: results[t][k] for t in (1, 2)}
        for r in per.values():
            r["ns_per_tie"] = 1e9 * r["day_s"] / (2 * r["ties"]) if r["ties"] else math.nan
            out["rows"].append(r)
            print(
                f"{n:>10,} {r['threads']:>7} {r['ties']:>11,} {r['build_s']:>8.2f} {1000 * r['day_s']:>8.2f} "
                f"{1000 * r['gather_s']:>9.2f} {_ratio(r['day_over_gather']):>26} "
                f"{r['ns_per_tie']:>7.2f} {r['peak_mb']:>8.0f}"
            )
        same = per[1]["digest"] == per[2]["digest"]
        speedup = per[1]["day_s"] / per[2]["day_s"]
        out["pairs"].append({"n": n, "speedup": speedup, "bit_identical": same})
        print(
            f"{'':>10} 2 threads vs 1: {speedup:.2f}x per day; trajectories bit-identical: {same}"
        )
    if a.year:
        r = results[2][len(sizes)]
        n = r["n"]
        r["person_steps_per_s"] = n * 365 / r["total_s"]
        out["year"] = r
        print(f"\n{n:,} people, 365 days, 2 threads: {r['total_s']:.1f} s wall including a "
              f"{r['build_s']:.1f} s build"
              + (f" ({r['process_s']:.1f} s for the whole process)" if "process_s" in r else "")
              + f"; {r['person_steps_per_s']:.3g} person-steps/s; "
              f"peak memory {r['peak_mb']:.0f} MB")  # fmt: skip
    last = results[2][len(sizes) - 1]
    print("\nms per day by submodel at the largest size, 2 threads (over 3 more days):")
    for k, v in last["mechanisms_ms"].items():
        print(f"  {k:<15}{v:8.2f}")
    rec = last["recording"]
    print(
        f"\nrecording a day at the largest size, 2 threads: trajectories (summarize) "
        f"{rec['summarize_ms']:.1f} ms, groups.parquet (group_table) {rec['groups_ms']:.1f} ms; "
        f"groups/summarize median [5-95%] {_ratio(rec['groups_over_summarize'])}"
    )
    print(f"\nrun fingerprint: {hashlib.sha256(json.dumps(sizes).encode()).hexdigest()[:8]}")
    return out


def main(argv: list[str] | None = None) -> dict:
    a = parse(argv)
    with tempfile.TemporaryDirectory(prefix="peerwell-bench-") as tmp:
        tasks, ctx = plan(a, Path(tmp))
        return report(a, ctx, run_each(tasks))


if __name__ == "__main__":
    main()
