"""Performance at scale: the full model at up to a million people, measured side by side.

    python benchmarks/bench_scale.py [--sizes 10000,100000,1000000] [--degree 20] [--year]

For each size, in a fresh process per thread count (Numba fixes its threads at start):
building the population and network, the time of a full model day (every mechanism on, daily
recording), a bare float64 neighbour gather over the same CSR graph (the floor of any model that
reads its neighbours) and their ratio, the cost per tie, 1 vs 2 threads with a check that the
trajectories are bit-identical, and the peak memory. ``--year`` also runs 365 days at the
largest size, wall clock including the build. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys

CHILD = r"""
import hashlib, json, resource, statistics, sys, time
import numpy as np
from numba import njit, prange, get_num_threads
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import ModelParams, with_overrides

@njit(parallel=True)  # no cache: this code has no file for Numba to cache against
def bare_gather(indptr, indices, x, out):
    for i in prange(out.shape[0]):
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += x[indices[k]]
        out[i] = s

n, degree, steps = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
p = with_overrides(ModelParams(), {"population.size": n, "network.mean_degree": degree, "steps": steps})
small = with_overrides(p, {"population.size": 2000, "steps": 2})
PeerwellModel(small).run_model()  # load the compiled kernels before timing
t0 = time.perf_counter()
m = PeerwellModel(p, timing=True, agent_views=False)
build = time.perf_counter() - t0
day_times = []
while m.running:
    t = time.perf_counter(); m.step(); day_times.append(time.perf_counter() - t)
x = np.random.default_rng(0).random(n)
out = np.zeros(n)
bare_gather(m.graph.indptr, m.graph.indices, x, out)
gathers = []
for _ in range(max(5, min(20, steps))):
    t = time.perf_counter(); bare_gather(m.graph.indptr, m.graph.indices, x, out); gathers.append(time.perf_counter() - t)
traj = m.trajectories()
digest = hashlib.sha256(traj.drop(columns=[]).to_numpy().tobytes()).hexdigest()[:16]
print(json.dumps({
    "n": n, "threads": get_num_threads(), "ties": m.graph.edges, "build_s": build,
    "day_s": statistics.median(day_times[1:] or day_times), "total_s": build + sum(day_times),
    "gather_s": statistics.median(gathers), "digest": digest,
    "mechanisms_ms": {k: 1000 * v / steps for k, v in m.timer.seconds.items()},
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "state_mb": m.state.nbytes() / 2**20,
}))
"""


def child(n: int, degree: float, steps: int, threads: int) -> dict:
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), str(degree), str(steps)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if out.returncode != 0:
        sys.exit(f"benchmark child failed ({n} people, {threads} threads):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def steps_for(n: int) -> int:
    return 40 if n >= 1_000_000 else 60 if n >= 100_000 else 200


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--degree", type=float, default=20.0)
    ap.add_argument("--year", action="store_true", help="also run 365 days at the largest size")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    results = {"rows": [], "year": None}
    print(f"{'people':>10} {'threads':>7} {'ties':>11} {'build s':>8} {'day ms':>8} {'gather ms':>9} "
          f"{'day/gather':>10} {'ns/tie':>7} {'peak MB':>8}")  # fmt: skip
    for n in sizes:
        per = {}
        for threads in (1, 2):
            r = child(n, a.degree, steps_for(n), threads)
            per[threads] = r
            results["rows"].append(r)
            print(
                f"{n:>10,} {r['threads']:>7} {r['ties']:>11,} {r['build_s']:>8.2f} {1000 * r['day_s']:>8.2f} "
                f"{1000 * r['gather_s']:>9.2f} {r['day_s'] / r['gather_s']:>10.2f} "
                f"{1e9 * r['day_s'] / (2 * r['ties']):>7.2f} {r['peak_mb']:>8.0f}"
            )
        same = per[1]["digest"] == per[2]["digest"]
        print(f"{'':>10} 2 threads vs 1: {per[1]['day_s'] / per[2]['day_s']:.2f}x per day; "
              f"trajectories bit-identical: {same}")  # fmt: skip
    if a.year:
        n = sizes[-1]
        r = child(n, a.degree, 365, 2)
        results["year"] = r
        print(f"\n{n:,} people, 365 days, 2 threads: {r['total_s']:.1f} s wall including a "
              f"{r['build_s']:.1f} s build; {n * 365 / r['total_s']:.3g} person-steps/s; "
              f"peak memory {r['peak_mb']:.0f} MB")  # fmt: skip
    last = results["rows"][-1]
    print("\nms per day by mechanism at the largest size, 2 threads:")
    for k, v in last["mechanisms_ms"].items():
        print(f"  {k:<15}{v:8.2f}")
    print(f"\nrun fingerprint: {hashlib.sha256(json.dumps(sizes).encode()).hexdigest()[:8]}")
    return results


if __name__ == "__main__":
    main()
