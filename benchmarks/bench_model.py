"""Speed of the Numba model against the readable per-agent reference, side by side in one run.

    python benchmarks/bench_model.py [--people 10000] [--steps 100] [--ref-steps 5]

Prints person-steps per second of: the Numba model (1 and 2 threads, each in its own process,
since Numba fixes its thread count at start), with and without daily recording; the plain
per-agent Mesa reference; and their ratio. Medians of repeated runs after a warm-up
(compilation is cached, so it is not counted). A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

CHILD = """
import json, sys, time, statistics
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import ModelParams, with_overrides
n, steps, repeats, record = (int(a) for a in sys.argv[1:5])
p = with_overrides(ModelParams(), {"population.size": n, "steps": steps, "record_every": 1 if record else steps})
PeerwellModel(with_overrides(p, {"steps": 2})).run_model()  # warm-up: load the compiled kernels
times, mech = [], None
for _ in range(repeats):
    m = PeerwellModel(p, timing=True, agent_views=False)
    t = time.perf_counter(); m.run_model(); times.append(time.perf_counter() - t)
    mech = m.timer.seconds
import numba
print(json.dumps({"seconds": statistics.median(times), "threads": numba.get_num_threads(),
                  "mechanisms": {k: v / steps for k, v in mech.items()}}))
"""


def numba_run(n: int, steps: int, repeats: int, threads: int, record: bool) -> dict:
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), str(steps), str(repeats), str(int(record))],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def reference_run(n: int, steps: int) -> float:
    from peerwell.simulation.params import ModelParams, with_overrides
    from peerwell.simulation.reference import ReferenceModel

    m = ReferenceModel(with_overrides(ModelParams(), {"population.size": n, "steps": steps}))
    t = time.perf_counter()
    for _ in range(steps):
        m.step()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--ref-steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    n = a.people
    print(
        f"peerwell model benchmark: {n:,} people, {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    rows = []
    for threads in (1, 2):
        for record in (False, True):
            r = numba_run(n, a.steps, a.repeats, threads, record)
            rate = n * a.steps / r["seconds"]
            label = f"Numba kernels, {r['threads']} thread(s), {'daily recording' if record else 'recording at end'}"
            rows.append((label, rate, r))
    ref_seconds = reference_run(n, a.ref_steps)
    ref_rate = n * a.ref_steps / ref_seconds
    rows.append(("reference: plain per-agent Mesa", ref_rate, None))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'implementation':<{width}}  person-steps/s   × reference")
    for label, rate, _ in rows:
        print(f"{label:<{width}}  {rate:>14.3g}   {rate / ref_rate:>10.0f}")
    best = rows[2]  # 2 threads, recording at end
    one = rows[0]
    print(f"\n2 threads vs 1 thread: {best[1] / one[1]:.2f}x")
    print("\nCPU time per day by mechanism (2 threads, ms):")
    mech = best[2]["mechanisms"]
    for k, v in mech.items():
        print(f"  {k:<15} {1000 * v:8.3f}")
    print(f"  {'(sum)':<15} {1000 * statistics.fsum(mech.values()):8.3f}")


if __name__ == "__main__":
    main()
