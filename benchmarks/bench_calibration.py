"""Calibration throughput: the default model's runs inside `calibrate method=abc`, side by side with
a serial loop of the same runs (issue 21).

The same particles (``--particles`` parameter sets drawn from the screened priors by a
Latin hypercube; a particle is one run of each fitted scenario, baseline and moderated community,
at the defaults: 3,000 people, 365 days) are run four ways in one invocation:

1. **subprocess** — what a script around the command line does: ``peerwell run`` per scenario
   and particle (an interpreter, Hydra's composition, the run and its file each time), one after
   another; on the first ``--subprocess`` particles only (its rate per particle is constant).
2. **serial, composed per run** — in one process, the scenarios composed by Hydra with the
   particle's overrides and then run, one after another (Numba on every core).
3. **serial, composed once** — in one process, the scenarios composed once and each particle's
   values set on them (``calibrate.measure_point``), one after another: the calibration's
   model without its workers.
4. **calibration batch** — what ``calibrate method=abc`` does: the same model function
   (``abc.Simulator``) on the calibration's local workers (``abc.local_executor``: processes that
   stay up, one per core, each with its share of the cores), the particles handed out in a batch.
   Timed from the executor's start, workers' start-up included.

Prints runs per minute (a run = one particle) and each rate against (2), the serial loop.

Usage::

    .venv/bin/python -m benchmarks.bench_calibration [--particles 24] [--subprocess 3]
    .venv/bin/python -m benchmarks.bench_calibration --quick   # a smoke run (seconds)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEERWELL = str(Path(sys.executable).with_name("peerwell"))


def particles(n: int, seed: int = 1) -> list[dict[str, float]]:
    """``n`` parameter sets from the screened priors (a Latin hypercube through each prior)."""
    from scipy.stats import qmc

    from peerwell.scenarios.evidence.priors import load_priors, screened

    fit = screened(load_priors())
    unit = qmc.LatinHypercube(d=len(fit), seed=seed).random(n)
    return [{p.name: float(p.ppf(u[j])) for j, p in enumerate(fit)} for u in unit]


def _text(values: dict[str, float]) -> list[str]:
    return [f"{k}={v!r}" for k, v in values.items()]


def subprocess_loop(points, overrides, scenarios) -> float:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, values in enumerate(points):
            for name in scenarios:
                cmd = [PEERWELL, "run", f"scenario={name}", f"output_dir={tmp}/{i}-{name}",
                       *overrides, *_text(values)]  # fmt: skip
                subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def composed_per_run(points, overrides) -> float:
    from peerwell.scenarios.evidence import calibrate as C

    t0 = time.perf_counter()
    for values in points:
        base = C.scenario_params([*overrides, *_text(values)], C.FIT_SCENARIOS)
        for p in base.values():
            C.probe(p)
    return time.perf_counter() - t0


def composed_once(points, overrides) -> float:
    from peerwell.scenarios.evidence import abc as B
    from peerwell.scenarios.evidence import calibrate as C

    base = C.scenario_params(list(overrides), C.FIT_SCENARIOS)
    sim = B.Simulator(base, list(points[0]), ["baseline.online_share"], seed=1)
    t0 = time.perf_counter()
    for values in points:
        sim(values)
    return time.perf_counter() - t0


def calibration_batch(points, overrides) -> tuple[float, int]:
    from peerwell.scenarios.evidence import abc as B
    from peerwell.scenarios.evidence import calibrate as C

    base = C.scenario_params(list(overrides), C.FIT_SCENARIOS)
    sim = B.Simulator(base, list(points[0]), ["baseline.online_share"], seed=1)
    t0 = time.perf_counter()
    executor, workers = B.local_executor(-1)
    if executor is None:
        for values in points:
            sim(values)
    else:
        list(executor.map(sim, points))
        executor.shutdown()
    return time.perf_counter() - t0, workers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_calibration")
    ap.add_argument("--particles", type=int, default=24)
    ap.add_argument("--subprocess", type=int, default=3, help="particles run as subprocesses")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 300 people, 30 days")
    a = ap.parse_args(argv)
    from peerwell.analysis.tables import markdown_table
    from peerwell.scenarios.evidence import calibrate as C

    overrides = ["population.size=300", "steps=30"] if a.quick else []
    n = 4 if a.quick else a.particles
    points = particles(n)
    composed_once(points[:1], overrides)  # load the kernels before anything is timed
    rows = []
    sub_n = min(a.subprocess, n)
    if sub_n:
        rows.append(("subprocess per run", sub_n, subprocess_loop(points[:sub_n], overrides,
                                                                  C.FIT_SCENARIOS)))  # fmt: skip
    rows.append(("serial, composed per run", n, composed_per_run(points, overrides)))
    rows.append(("serial, composed once", n, composed_once(points, overrides)))
    seconds, workers = calibration_batch(points, overrides)
    rows.append((f"calibration batch ({workers} workers)", n, seconds))
    serial = 60 * n / rows[-3][2]
    cells = [[name, k, f"{s:.1f}", f"{60 * k / s:.1f}", f"{60 * k / s / serial:.2f}"]
             for name, k, s in rows]  # fmt: skip
    print(f"calibration throughput: {n} particles of the default model"
          f"{' (quick: 300 people, 30 days)' if a.quick else ''}, {os.cpu_count()} cores")  # fmt: skip
    print(markdown_table(["way", "particles", "seconds", "particles/min", "× serial loop"], cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
