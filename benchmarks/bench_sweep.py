"""Sweep throughput: runs per minute with the joblib launcher vs serially, and launcher overhead.

Measured side by side in one invocation, on the same N runs (seeds 1..N of the baseline):

1. serial      — one process runs the N simulations one after another through the same store
                 code (``runstore.ensure_run``), no launcher: the reference.
2. joblib      — ``peerwell sweep -m seed=range(1,N+1)`` with the default launcher (all cores),
                 wall time of the whole command as a user sees it.
3. joblib x1   — the same with ``hydra.launcher.n_jobs=1``: Hydra runs the jobs one after another,
                 so (3) - (1) is what the launcher adds, per run.
4. resume      — (2) again on its finished store: every run is skipped, so this is the launcher's
                 own cost (interpreter start, composition of every job's config, store checks).

Usage::

    .venv/bin/python benchmarks/bench_sweep.py [--runs 12] [--steps 365] [--size 3000]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEERWELL = str(Path(sys.executable).with_name("peerwell"))


def serial(runs: int, steps: int, size: int, store: Path) -> tuple[float, float]:
    """(wall, CPU) seconds for N runs in this process, one Numba thread (as a sweep job runs)."""
    import numba

    from peerwell.scenarios.models import MODELS
    from peerwell.scenarios.runstore import ensure_run
    from peerwell.simulation.params import ModelParams, with_overrides

    numba.set_num_threads(1)
    hook = MODELS["peerwell"]
    warm = with_overrides(ModelParams(), {"steps": 2, "population.size": 200})
    hook.run(warm)  # load the compiled kernels (cache) outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    for seed in range(1, runs + 1):
        p = with_overrides(ModelParams(), {"seed": seed, "steps": steps, "population.size": size})
        ensure_run(store, hook.run_id(p), lambda p=p: hook.run(p))
    return time.perf_counter() - t0, time.process_time() - c0


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def sweep(runs: int, steps: int, size: int, store: Path, *extra: str) -> tuple[float, float, float]:
    """(wall s of the command, s the sweep reported between plan and end, CPU s of all its
    processes: the command and its workers, which it waits for)."""
    cmd = [PEERWELL, "sweep", "-m", f"seed=range(1,{runs + 1})", f"steps={steps}"]
    cmd += [f"population.size={size}", f"hydra.sweep.dir={store}", *extra]
    t0, c0 = time.perf_counter(), _children_cpu()
    r = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if r.returncode != 0:
        sys.exit(f"sweep failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    m = re.search(r"in ([0-9.]+) s;", r.stdout)
    return wall, float(m.group(1)) if m else float("nan"), cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--steps", type=int, default=365)
    ap.add_argument("--size", type=int, default=3000)
    a = ap.parse_args()
    from joblib import cpu_count

    n = a.runs
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t_serial, c_serial = serial(n, a.steps, a.size, tmp / "serial")
        t_par, t_par_inner, c_par = sweep(n, a.steps, a.size, tmp / "joblib")
        t_one, t_one_inner, c_one = sweep(
            n, a.steps, a.size, tmp / "joblib1", "hydra.launcher.n_jobs=1"
        )
        t_resume, _, c_resume = sweep(n, a.steps, a.size, tmp / "joblib")

    def rpm(t: float) -> float:
        return 60 * n / t

    cores = cpu_count()
    load = os.getloadavg()[0]
    print(
        f"peerwell sweep benchmark: {n} runs of {a.size} people x {a.steps} days, "
        f"{cores} cores (load average {load:.1f}; CPU seconds are per run)"
    )
    rows = [
        ("serial, one process", t_serial, t_serial, c_serial),
        (f"joblib launcher, n_jobs={cores}", t_par, t_par_inner, c_par),
        ("joblib launcher, n_jobs=1", t_one, t_one_inner, c_one),
    ]
    for name, wall, inner, cpu in rows:
        print(
            f"  {name:<28} {rpm(wall):6.1f} runs/min  wall {wall:6.1f} s "
            f"(inside the sweep {inner:6.1f} s)  CPU {cpu / n:5.2f} s/run"
        )
    print(f"  ratio joblib / serial        {t_serial / t_par:6.2f}x wall, whole command")
    print(
        f"  ratio inside the sweep       {t_serial / t_par_inner:6.2f}x "
        "(without interpreter start-up and imports of the driver)"
    )
    print(
        f"  launcher overhead per run    {(t_one - t_serial) / n:6.2f} s wall, "
        f"{(c_one - c_serial) / n:5.2f} s CPU  ((joblib n_jobs=1 - serial) / runs, start-up included)"
    )
    print(
        f"  resume, all {n} runs done    {t_resume:6.1f} s wall, {c_resume:5.1f} s CPU "
        f"({t_resume / n:.2f} s per run: start-up, config composition per job, store checks)"
    )


if __name__ == "__main__":
    main()
