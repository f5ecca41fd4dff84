"""The measurements that need a fresh process per Numba thread count, shared by the bench scripts.

    NUMBA_NUM_THREADS=2 python benchmarks/worker.py '[{"task": "scale", "n": 10000, ...}, ...]'

Numba starts its thread pool once per process, so every figure "at k threads" is measured in a
process started with ``NUMBA_NUM_THREADS=k``. A worker runs its tasks in order, after one warm-up
that loads the cached kernels, and prints one JSON line: the list of their results. The bench
scripts run one task per worker (so peak memory is the task's own); ``peerwell bench --quick``
runs all the tasks of a thread count in one worker, saving the ~4 s each process spends starting
(imports and loading the compiled kernels).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit, prange

from peerwell.simulation.rng import STREAM_VALIDATION, step_key, uniform

HERE = Path(__file__).resolve().parent
TIMED_DAYS = 3  # days run with the per-submodel timer after each timed run


@njit(parallel=True, cache=True)
def bare_gather(indptr, indices, x, out):
    """The floor of any model that reads its neighbours: a float64 sum over every tie."""
    for i in prange(out.shape[0]):
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += x[indices[k]]
        out[i] = s


@njit(parallel=True, cache=True)
def bare_sis_step(indptr, indices, x, y, key, beta, mu):
    """One synchronous SIS step and nothing else: the floor of any SIS on this graph.

    The issue's "Numba CSR kernel with counter-based random numbers": NDlib's semantics (an
    infected person recovers with probability mu; a susceptible with m infected neighbours is
    infected with probability 1 - (1 - beta)^m), int8 states, only susceptible people gather.
    """
    for i in prange(x.shape[0]):
        if x[i] == 1:
            y[i] = 0 if uniform(key, i, 0) < mu else 1
        else:
            m = 0
            for k in range(indptr[i], indptr[i + 1]):
                m += x[np.uint64(indices[k])]
            y[i] = 1 if (m > 0 and uniform(key, i, 1) < 1.0 - (1.0 - beta) ** m) else 0


def run_bare_sis(indptr, indices, who, beta: float, mu: float, steps: int, seed: int):
    """Seconds of ``steps`` bare SIS steps (counting the infected each step), and the prevalence."""
    n = indptr.shape[0] - 1
    x = np.zeros(n, dtype=np.int8)
    x[who] = 1
    y = np.empty_like(x)
    keys = [np.uint64(step_key(seed, STREAM_VALIDATION, t)) for t in range(steps)]
    traj = [np.count_nonzero(x) / n]
    t0 = time.perf_counter()
    for key in keys:
        bare_sis_step(indptr, indices, x, y, key, beta, mu)
        x, y = y, x
        traj.append(np.count_nonzero(x) / n)
    return time.perf_counter() - t0, traj


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def warm_up() -> None:
    """Load the compiled kernels (cached on disk) so no task times their loading."""
    from peerwell.simulation.model import PeerwellModel

    PeerwellModel(**{"population.size": 2000, "steps": 2}).run_model()


def task_model(n: int, steps: int, repeats: int) -> dict:
    """The full model's run time, with daily recording and with recording at the end only."""
    from peerwell.simulation.model import PeerwellModel
    from peerwell.simulation.params import ModelParams, with_overrides

    p = with_overrides(ModelParams(), {"population.size": n, "steps": steps})
    out = {}
    for mode, every in (("end", steps), ("daily", 1)):
        q = with_overrides(p, {"record_every": every})
        times = []
        for _ in range(repeats):
            m = PeerwellModel(q, agent_views=False)
            t = time.perf_counter()
            m.run_model()
            times.append(time.perf_counter() - t)
        out[mode] = {"seconds": statistics.median(times), "mechanisms": submodel_times(m)}
    return out


def submodel_times(m, days: int = TIMED_DAYS) -> dict[str, float]:
    """Seconds per day of each submodel, over ``days`` more days of a finished run ``m``
    (timed apart, so the figures of the run itself are those of untimed days)."""
    m.set_params({"steps": m.params.steps + days})
    m.timer.enabled = True
    m.timer.seconds.clear()
    for _ in range(days):
        m.step()
    return {k: v / days for k, v in m.timer.seconds.items()}


def task_scale(n: int, degree: float, steps: int) -> dict:
    """Build time, a full model day against a bare neighbour gather over the same CSR graph."""
    from peerwell.simulation.model import PeerwellModel
    from peerwell.simulation.params import ModelParams, with_overrides

    p = with_overrides(
        ModelParams(), {"population.size": n, "network.mean_degree": degree, "steps": steps}
    )
    t0 = time.perf_counter()
    m = PeerwellModel(p, agent_views=False)
    build = time.perf_counter() - t0
    day_times = []
    while m.running:
        t = time.perf_counter()
        m.step()
        day_times.append(time.perf_counter() - t)
    x = np.random.default_rng(0).random(n)
    out = np.zeros(n)
    bare_gather(m.graph.indptr, m.graph.indices, x, out)
    gathers = []
    for _ in range(max(5, min(20, steps))):
        t = time.perf_counter()
        bare_gather(m.graph.indptr, m.graph.indices, x, out)
        gathers.append(time.perf_counter() - t)
    traj = m.trajectories()
    mechanisms = submodel_times(m)
    return {
        "n": n,
        "steps": steps,
        "ties": m.graph.edges,
        "build_s": build,
        "day_s": statistics.median(day_times[1:] or day_times),
        "total_s": build + sum(day_times),
        "gather_s": statistics.median(gathers),
        "digest": hashlib.sha256(traj.to_numpy().tobytes()).hexdigest()[:16],
        "mechanisms_ms": {k: 1000 * v for k, v in mechanisms.items()},
        "state_mb": m.state.nbytes() / 2**20,
    }


def task_sis(
    edges: str, infected: str, n: int, beta: float, mu: float, steps: int, repeats: int, seed: int
) -> dict:
    """`peerwell validate model=sis`'s configuration of the production kernels, on a graph's ties.

    ``well_mixed_overrides`` with no feed (``k=0``: ``exchange.read_rate=0``) and the graph as an
    edge list: every misled person posts one misleading post a day (everyone a superuser posting
    daily, all posts about health), read by each tied co-member; adoption a = -ln(1-β) per post
    makes the daily infection chance 1-(1-β)^m; correction by care g = -ln(1-μ) makes recovery μ.
    Only the submodels the contagion reads run (posting, exchange, misinformation); the same runs
    with every submodel running (the whole day) are timed too, and their belief counts compared.
    """
    import math

    from peerwell.scenarios import validate as V

    who = np.load(infected)
    mapping = {
        **V.well_mixed_overrides(n, seed, k=0.0, adoption=-math.log1p(-beta),
                                 g=-math.log1p(-mu), renewal=1.0, steps=steps),
        "network.kind": "edgelist",
        "network.path": edges,
    }  # fmt: skip
    whole = V.with_every_submodel(mapping)

    def one(config: dict, s: int, days: int):
        model = V.make_model({**config, "seed": s})
        model.state.cur["misinfo"][:] = 0
        model.state.cur["misinfo"][who] = 1
        t = time.perf_counter()
        counts = V.run_contagion(model, days, until_over=False)
        return time.perf_counter() - t, counts, model

    _, _, model = one(mapping, seed, 2)
    one(whole, seed, 2)
    indptr, indices = model.graph.indptr, model.graph.indices  # the same graph's CSR
    run_bare_sis(indptr, indices, who, beta, mu, 2, seed)
    times, trajs, h = [], [], hashlib.sha256()
    whole_times, same = [], True
    bare = [run_bare_sis(indptr, indices, who, beta, mu, steps, seed + r) for r in range(repeats)]
    for r in range(repeats):
        sec, counts, model = one(mapping, seed + r, steps)
        times.append(sec)
        trajs.append((counts[:, 1] / n).tolist())
        h.update(counts.tobytes())
        for name in sorted(model.state.cur):
            h.update(np.ascontiguousarray(model.state.cur[name]).tobytes())
        sec, counts_whole, _ = one(whole, seed + r, steps)
        whole_times.append(sec)
        same &= bool(np.array_equal(counts, counts_whole))
    return {"times": times, "trajectories": trajs, "digest": h.hexdigest()[:16],
            "whole_times": whole_times, "whole_same": same,
            "bare_times": [s for s, _ in bare], "bare_trajectories": [t for _, t in bare]}  # fmt: skip


TASKS = {"model": task_model, "scale": task_scale, "sis": task_sis}


class Worker:
    """A fresh worker process running ``tasks`` (dicts: ``task`` plus its keyword arguments)."""

    def __init__(self, tasks: list[dict], threads: int):
        self.threads = threads
        self.names = ", ".join(f"{t['task']}({t.get('n', '')})" for t in tasks)
        print(f"  [{threads} thread{'s' if threads > 1 else ''}: {self.names}]",
              file=sys.stderr, flush=True)  # fmt: skip
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "worker.py"), json.dumps(tasks)],
            env={**os.environ, "NUMBA_NUM_THREADS": str(threads)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def results(self) -> list[dict]:
        """Wait for the worker. Each result also carries ``threads`` (Numba's count in the
        worker), ``peak_mb`` (the worker's peak resident memory so far) and ``seconds`` (the
        task's wall time); the first also ``process_s``, the worker's whole wall time (Python
        start, imports, warm-up and every task)."""
        stdout, stderr = self.proc.communicate()
        if self.proc.returncode != 0:
            raise RuntimeError(
                f"benchmark worker failed ({self.threads} threads, {self.names}):\n{stderr[-3000:]}"
            )
        results = json.loads(stdout.strip().splitlines()[-1])
        results[0]["process_s"] = time.perf_counter() - self.t0
        return results


def run_tasks(tasks: list[dict], threads: int) -> list[dict]:
    """Run ``tasks`` in one fresh worker process and wait for it."""
    return Worker(tasks, threads).results()


Plan = dict[int, list[dict]]  # thread count -> tasks, in order


def run_each(plan: Plan) -> Plan:
    """Every task in its own fresh process, one at a time (what the bench scripts do)."""
    return {t: [run_tasks([task], t)[0] for task in tasks] for t, tasks in plan.items()}


def run_batched(plans: list[Plan], concurrently: bool = False) -> list[Plan]:
    """All tasks of a thread count, from several plans, in one process; results split back.

    ``concurrently`` runs the thread counts' processes at the same time: quicker, but they share
    the cores, so only for smoke runs whose timings do not matter.
    """
    threads = sorted({t for p in plans for t in p})
    merged = {t: [task for p in plans for task in p.get(t, [])] for t in threads}
    if concurrently:
        workers = {t: Worker(merged[t], t) for t in threads if merged[t]}
        done = {t: workers[t].results() if t in workers else [] for t in threads}
    else:
        done = {t: run_tasks(merged[t], t) if merged[t] else [] for t in threads}
    out = []
    for p in plans:
        out.append({t: [done[t].pop(0) for _ in p[t]] for t in p})
    return out


def main(argv: list[str]) -> None:
    import numba

    tasks = json.loads(argv[0])
    warm_up()
    results = []
    for t in tasks:
        kwargs = {k: v for k, v in t.items() if k != "task"}
        start = time.perf_counter()
        r = TASKS[t["task"]](**kwargs)
        r.update(
            seconds=time.perf_counter() - start, threads=numba.get_num_threads(), peak_mb=peak_mb()
        )
        results.append(r)
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
