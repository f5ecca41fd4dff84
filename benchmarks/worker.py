"""The measurements that need a fresh process per Numba thread count, shared by the bench scripts.

    NUMBA_NUM_THREADS=2 python -m benchmarks.worker '[{"task": "scale", "n": 10000, ...}, ...]'

Numba starts its thread pool once per process, so every figure "at k threads" is measured in a
process started with ``NUMBA_NUM_THREADS=k``. A worker runs its tasks in order, after one warm-up
that loads the cached kernels, and prints one JSON line: the list of their results. The bench
scripts run one task per worker (so peak memory is the task's own); ``python -m benchmarks --quick``
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
PAIRED_DAYS = 200  # runs this long or shorter time a bare gather after each day (task_scale)


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


def recording_times(m, repeats: int = 9) -> dict:
    """What a recorded day's aggregates cost on a finished run ``m``: the population's alone
    (``summarize`` without groups, the columns of trajectories.parquet) and with the groups'
    cells summed in the same pass and their rows made (``m.group_table()``, what a recorded day
    of the model does), timed in turn, with the median of the pairs' own ratios and their
    spread."""
    from peerwell.simulation.recorder import summarize

    population, groups, ratios = [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        summarize(m.state, m.day)
        population.append(time.perf_counter() - t)
        t = time.perf_counter()
        m.group_table()
        groups.append(time.perf_counter() - t)
        ratios.append(groups[-1] / population[-1])
    return {
        "summarize_ms": 1000 * statistics.median(population),
        "groups_ms": 1000 * statistics.median(groups),
        "groups_over_summarize": _spread(ratios),
    }


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
    x = np.random.default_rng(0).random(n)
    out = np.zeros(n)
    bare_gather(m.graph.indptr, m.graph.indices, x, out)  # compiled before the first day
    # The first PAIRED_DAYS days are each followed by one bare gather: each day gives its own
    # day/gather ratio, under the same load as its day (the bench reports their median and
    # spread). A longer run (the year) is timed alone, as a user would run it.
    day_times, gathers = [], []
    while m.running:
        t = time.perf_counter()
        m.step()
        day_times.append(time.perf_counter() - t)
        if len(gathers) < PAIRED_DAYS and steps <= PAIRED_DAYS:
            t = time.perf_counter()
            bare_gather(m.graph.indptr, m.graph.indices, x, out)
            gathers.append(time.perf_counter() - t)
    if not gathers:
        for _ in range(max(5, min(20, steps))):
            t = time.perf_counter()
            bare_gather(m.graph.indptr, m.graph.indices, x, out)
            gathers.append(time.perf_counter() - t)
    ratios = [d / g for d, g in zip(day_times[1:], gathers[1:])] or [
        statistics.median(day_times) / statistics.median(gathers)
    ]
    traj = m.trajectories()
    recording = recording_times(m)
    mechanisms = submodel_times(m)
    return {
        "n": n,
        "steps": steps,
        "ties": m.graph.edges,
        "build_s": build,
        "day_s": statistics.median(day_times[1:] or day_times),
        "total_s": build + sum(day_times),
        "gather_s": statistics.median(gathers),
        "day_over_gather": _spread(ratios),
        "digest": hashlib.sha256(traj.to_numpy().tobytes()).hexdigest()[:16],
        "mechanisms_ms": {k: 1000 * v for k, v in mechanisms.items()},
        "recording": recording,
        "state_mb": m.state.nbytes() / 2**20,
    }


def build_graph(n: int, m: int, seed: int):
    """The SIS benchmark's Barabási–Albert graph (networkx, seeded): the same in every process."""
    import networkx as nx

    return nx.barabasi_albert_graph(n, m, seed=seed)


def ndlib_available() -> str | None:
    """NDlib's version if it imports, else None."""
    try:
        from importlib.metadata import version

        import ndlib.models.epidemics  # noqa: F401  (needs `six`, which NDlib does not declare)

        return version("ndlib")
    except Exception:  # ImportError, or a dependency missing in a way NDlib reports oddly
        return None


def run_ndlib(g, infected: np.ndarray, beta: float, mu: float, steps: int, seed: int):
    """Seconds of ``steps`` iterations of NDlib's ``SISModel`` on ``g``, and the prevalence."""
    import ndlib.models.epidemics as ep
    from ndlib.models.ModelConfig import Configuration

    model = ep.SISModel(g, seed=seed)
    cfg = Configuration()
    cfg.add_model_parameter("beta", beta)
    cfg.add_model_parameter("lambda", mu)
    cfg.add_model_initial_configuration("Infected", [int(i) for i in infected])
    model.set_initial_status(cfg)
    n = g.number_of_nodes()
    traj = [model.iteration(node_status=False)["node_count"][1] / n]  # iteration 0: no update
    t = time.perf_counter()
    for _ in range(steps):
        traj.append(model.iteration(node_status=False)["node_count"][1] / n)
    return time.perf_counter() - t, traj


def task_sis(
    edges: str, infected: str, n: int, m: int, beta: float, mu: float, steps: int, repeats: int,
    seed: int, ndlib: bool = True,
) -> dict:  # fmt: skip
    """`peerwell validate model=sis`'s configuration of the production kernels, on a graph's ties,
    beside NDlib and the bare kernel, run by run in turn.

    ``well_mixed_overrides`` with no feed (``k=0``: ``exchange.read_rate=0``) and the graph as an
    edge list: every misled person posts one misleading post a day (everyone a superuser posting
    daily, all posts about health), read by each tied co-member; adoption a = -ln(1-β) per post
    makes the daily infection chance 1-(1-β)^m; correction by care g = -ln(1-μ) makes recovery μ.
    Only the submodels the contagion reads run (posting, exchange, misinformation); the same runs
    with every submodel running (the whole day) are timed too, and their belief counts compared.

    Each of the ``repeats`` rounds runs, in this order and in this one process: NDlib, peerwell
    on 1 thread, on every thread, with its automatic choice, the whole day, and the bare kernel on
    1 and on every thread. Whatever load the machine has then falls on all of them alike, and
    each round gives one ratio per implementation to that round's NDlib run: the bench reports
    their median and range, never one favourable run.
    """
    import math

    import numba

    from peerwell.scenarios.evidence import classic as V

    every = numba.get_num_threads()
    who = np.load(infected)
    mapping = {
        **V.well_mixed_overrides(n, seed, k=0.0, adoption=-math.log1p(-beta),
                                 g=-math.log1p(-mu), renewal=1.0, steps=steps),
        "network.kind": "edgelist",
        "network.path": edges,
    }  # fmt: skip
    whole = V.with_every_submodel(mapping)
    graph = build_graph(n, m, seed) if ndlib else None

    def one(config: dict, s: int, days: int, threads: int | None):
        model = V.make_model({**config, "seed": s})
        model.threads = threads
        model.state.cur["misinfo"][:] = 0
        model.state.cur["misinfo"][who] = 1
        t = time.perf_counter()
        counts = V.run_contagion(model, days, until_over=False)
        return time.perf_counter() - t, counts, model

    def bare(threads: int, s: int, days: int):
        numba.set_num_threads(threads)
        try:
            return run_bare_sis(indptr, indices, who, beta, mu, days, s)
        finally:
            numba.set_num_threads(every)

    _, _, model = one(mapping, seed, 2, None)  # warm-ups: nothing loads inside a timed run
    one(whole, seed, 2, None)
    indptr, indices = model.graph.indptr, model.graph.indices  # the same graph's CSR
    bare(1, seed, 2)
    if graph is not None:
        run_ndlib(graph, who, beta, mu, 2, seed)
    variants = {"1": 1, str(every): every, "auto": None}
    out: dict = {"ndlib": [], "whole": [], "whole_same": True, "threads": every,
                 "bare": {"1": [], str(every): []},
                 "peerwell": {k: {"times": [], "trajectories": [], "digest": None}
                              for k in variants}}  # fmt: skip
    digests: dict[str, hashlib._Hash] = {k: hashlib.sha256() for k in variants}
    for r in range(repeats):
        if graph is not None:
            out["ndlib"].append(run_ndlib(graph, who, beta, mu, steps, seed + r))
        for key, threads in variants.items():
            sec, counts, model = one(mapping, seed + r, steps, threads)
            row = out["peerwell"][key]
            row["times"].append(sec)
            row["trajectories"].append((counts[:, 1] / n).tolist())
            digests[key].update(counts.tobytes())
            for name in sorted(model.state.cur):
                digests[key].update(np.ascontiguousarray(model.state.cur[name]).tobytes())
        out["auto_threads"] = model.day_threads(every)
        sec, counts_whole, _ = one(whole, seed + r, steps, None)
        out["whole"].append(sec)
        out["whole_same"] &= bool(np.array_equal(counts, counts_whole))
        for t in {1, every}:
            out["bare"][str(t)].append(bare(t, seed + r, steps))
    for key in variants:
        out["peerwell"][key]["digest"] = digests[key].hexdigest()[:16]
    return out


def _lockstep_days(models: dict, days: int) -> dict[str, list[float]]:
    """Step same-seed models day by day in turn (alternating which goes first each day), so load
    on the machine falls on all of them alike; the seconds of each day of each, by name."""
    times: dict[str, list[float]] = {name: [] for name in models}
    order = list(models)
    for d in range(days):
        for name in order if d % 2 == 0 else order[::-1]:
            t = time.perf_counter()
            models[name].step()
            times[name].append(time.perf_counter() - t)
    return times


def task_threads(n: int, days: int, config: str, seed: int = 1) -> dict:
    """One day on 1 thread, on every thread and with the automatic choice, side by side.

    Three models with the same seed step in lockstep (``_lockstep_days``), so each day's three
    times are a pair-wise comparison of the same work under the same load. ``config`` is
    ``default`` (the whole model) or ``sis`` (the SIS configuration of ``bench_sis``, on a
    Barabási–Albert graph with m = 5: the leanest day the model runs). The final states must be
    bit-identical: the thread count changes the speed only.
    """
    import math

    import numba

    from peerwell.scenarios.evidence import classic as V

    every = numba.get_num_threads()
    if config == "sis":
        import networkx as nx

        edges = HERE / f".threads-ba-{n}.edgelist"
        g = nx.barabasi_albert_graph(n, 5, seed=seed)
        np.savetxt(edges, np.asarray(list(g.edges()), dtype=np.int64), fmt="%d")
        mapping = {
            **V.well_mixed_overrides(n, seed, k=0.0, adoption=-math.log1p(-0.03),
                                     g=-math.log1p(-0.1), renewal=1.0, steps=days + 1),
            "network.kind": "edgelist", "network.path": str(edges),
        }  # fmt: skip
    else:
        mapping = {"population.size": n, "steps": days + 1, "seed": seed}
    try:
        models = {}
        for name, threads in (("one", 1), ("all", every), ("auto", None)):
            models[name] = V.make_model(mapping)
            models[name].threads = threads
            if config == "sis":
                models[name].state.cur["misinfo"][: max(1, n // 20)] = 1
            models[name].step()  # the first day loads what is not loaded yet: not timed
    finally:
        if config == "sis":
            edges.unlink(missing_ok=True)
    times = _lockstep_days(models, days)
    digests = set()
    for m in models.values():
        h = hashlib.sha256()
        for name in sorted(m.state.cur):
            h.update(np.ascontiguousarray(m.state.cur[name]).tobytes())
        digests.add(h.hexdigest())
    ratios = [a / o for a, o in zip(times["all"], times["one"])]
    auto_ratios = [a / o for a, o in zip(times["auto"], times["one"])]
    return {
        "n": n, "config": config, "days": days, "threads": every,
        "tie_ends": int(models["one"].graph.indices.shape[0]),
        "auto_threads": models["auto"].day_threads(every),
        "day_ms": {k: 1000 * statistics.median(v) for k, v in times.items()},
        "all_over_one": _spread(ratios), "auto_over_one": _spread(auto_ratios),
        "identical": len(digests) == 1,
    }  # fmt: skip


def _spread(values: list[float]) -> dict[str, float]:
    """Median and the middle 90% of per-pair ratios (the extremes are single hiccups)."""
    q = np.quantile(values, [0.05, 0.5, 0.95])
    return {"p5": float(q[0]), "median": float(q[1]), "p95": float(q[2])}


TASKS = {"model": task_model, "scale": task_scale, "sis": task_sis, "threads": task_threads}


class Worker:
    """A fresh worker process running ``tasks`` (dicts: ``task`` plus its keyword arguments)."""

    def __init__(self, tasks: list[dict], threads: int):
        self.threads = threads
        self.names = ", ".join(f"{t['task']}({t.get('n', '')})" for t in tasks)
        print(f"  [{threads} thread{'s' if threads > 1 else ''}: {self.names}]",
              file=sys.stderr, flush=True)  # fmt: skip
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", json.dumps(tasks)],
            cwd=HERE.parent,  # the checkout, where `benchmarks` is importable
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
