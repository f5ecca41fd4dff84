"""SIS contagion on one network: NDlib, idiomatic Mesa and peerwell's production kernels side by side.

    python -m benchmarks.bench_sis [--people 10000] [--m 5] [--steps 100] [--beta 0.03] [--mu 0.1]

One Barabási–Albert graph (networkx, seeded), one set of initially infected people, the same
per-contact infection probability β and recovery probability μ, for:

- NDlib 6.0.1 ``SISModel`` (``pip install -e '.[bench]'``; the row is skipped with a note if it
  is missing);
- idiomatic Mesa 3.5: one ``FixedAgent`` per node on ``mesa.discrete_space.Network``, written like
  Mesa's ``virus_on_network`` example, but synchronous (``step`` reads, ``advance`` writes) and
  pull-based, to match NDlib's update semantics; and the same code with peerwell's one-day
  recovered state (``refractory=True``, see ``SEMANTICS``), the like-for-like check of peerwell;
- a bare Numba SIS kernel (``worker.bare_sis_step``: int8 states on peerwell's CSR of the graph,
  counter-based draws, only susceptible people gather; the issue's "Numba CSR kernel"), the floor
  of any SIS on this machine, with NDlib's semantics;
- peerwell: the production kernels in the SIS configuration of ``peerwell validate model=sis``
  (``scenarios.validate.well_mixed_overrides``), with the feed switched off
  (``exchange.read_rate=0``) and the graph given as ``network=edgelist``, so contacts are the
  graph's ties. Like every validation, it runs only the submodels the contagion reads (posting,
  exchange, misinformation; ``submodels.*``), which gives the belief trajectories of the whole
  model bit for bit; the whole day (every submodel) is timed beside it and checked to give the
  same counts: every misled person posts a misleading post every day, a susceptible
  reading m of them is misled with probability 1 - exp(-a·m) = 1 - (1-β)^m for
  a = -ln(1-β), and care corrects with probability 1 - exp(-g) = μ for g = -ln(1-μ). At 1 and 2
  threads, each in a fresh process (Numba fixes its thread pool at start), with a check that the
  trajectories are bit-identical; and with its automatic thread choice (the default).

NDlib, peerwell (1 thread, 2 threads, automatic), the whole day and the bare kernel run in turn,
round by round, in one process (``worker.task_sis``), so that whatever load the machine has falls
on all of them alike; each round gives each implementation's ratio to that round's NDlib run, and
the bench reports the median and the range (lowest to highest) of those per-round ratios.

Prints node-updates per second (people × steps / seconds of stepping, each implementation
counting its infected every step; medians of repeated runs; building the model and graph is not
counted), the ratios, the prevalence trajectories and a check that the endemic prevalences agree
(NDlib ≈ Mesa, Mesa with the recovered day ≈ peerwell). A benchmark, not a test: it asserts
nothing.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.worker import Plan, build_graph, ndlib_available, run_each

NDLIB_INSTALL = "pip install -e '.[bench]'  (or: pip install ndlib==6.0.1 six)"

# What differs between the implementations (printed beside the agreement check).
SEMANTICS = (
    "All implementations are synchronous: each step reads step t and writes t+1; a susceptible "
    "with m infected neighbours is infected with probability 1-(1-β)^m; an infected person "
    "recovers with probability μ in the same step. NDlib and the Mesa version make the recovered "
    "person susceptible at once. peerwell's belief kernel has no I→S transition: I→R (corrected), "
    "then R→S the next day (exchange.misinfo_renewal=1), so a recovered person sits out one day; "
    "that holds about μ·I of the people out of S and lowers the endemic prevalence (by about μ·I "
    "here). So peerwell is checked against the same Mesa code with that one-day recovered state "
    "(refractory=True), and Mesa against NDlib: NDlib ≈ Mesa ≈ Mesa+refractory day ≈ peerwell. "
    "The bare kernel has NDlib's semantics (no recovered day). "
    "Random numbers differ (NDlib: numpy's global generator, one draw per person per step; "
    "Mesa: the model's random.Random; peerwell and the bare kernel: counter-based SplitMix64), "
    "so trajectories agree in distribution, not run by run. Initial infected people and the graph are the same."
)


# ---------------------------------------------------------------------------------------------
# The shared set-up


def initial_infected(n: int, share: float, seed: int) -> np.ndarray:
    count = max(1, round(share * n))
    return np.sort(np.random.default_rng([seed, 0x515]).choice(n, count, replace=False))


def window_mean(traj: list[float], window: int) -> float:
    return float(np.mean(traj[-window:]))


# ---------------------------------------------------------------------------------------------
# Idiomatic Mesa (after mesa.examples.basic.virus_on_network)


SUSCEPTIBLE, INFECTED, RECOVERED = 0, 1, 2


def mesa_model_class():
    import mesa
    from mesa.discrete_space import FixedAgent, Network

    class SISAgent(FixedAgent):
        """A person on a network node: susceptible, infected or (for one step) recovered."""

        def __init__(self, model, cell, state):
            super().__init__(model)
            self.cell = cell
            self.state = state
            self.next_state = state

        def step(self):
            if self.state == INFECTED:
                if self.random.random() < self.model.mu:
                    self.next_state = RECOVERED if self.model.refractory else SUSCEPTIBLE
            elif self.state == RECOVERED:
                self.next_state = SUSCEPTIBLE
            else:
                m = sum(1 for a in self.cell.neighborhood.agents if a.state == INFECTED)
                if m and self.random.random() < 1 - (1 - self.model.beta) ** m:
                    self.next_state = INFECTED

        def advance(self):
            self.state = self.next_state

    def prevalence(model):
        return sum(1 for a in model.agents if a.state == INFECTED) / len(model.agents)

    class SISOnNetwork(mesa.Model):
        """SIS on a network; ``refractory=True`` adds peerwell's one-day recovered state."""

        def __init__(self, graph, infected, beta, mu, refractory=False, rng=None):
            super().__init__(rng=rng)
            self.beta, self.mu, self.refractory = beta, mu, refractory
            self.grid = Network(graph, capacity=1, random=self.random, layout=None)
            sick = set(int(i) for i in infected)
            cells = list(self.grid.all_cells)
            states = [INFECTED if c.coordinate in sick else SUSCEPTIBLE for c in cells]
            SISAgent.create_agents(self, len(cells), cell=cells, state=states)
            self.datacollector = mesa.DataCollector({"infected": prevalence})
            self.datacollector.collect(self)

        def step(self):
            self.agents.do("step")
            self.agents.do("advance")
            self.datacollector.collect(self)

    return SISOnNetwork


def run_mesa(g, infected, beta, mu, steps, seed, refractory=False):
    model = mesa_model_class()(g, infected, beta, mu, refractory=refractory, rng=seed)
    t = time.perf_counter()
    for _ in range(steps):
        model.step()
    seconds = time.perf_counter() - t
    return seconds, model.datacollector.get_model_vars_dataframe()["infected"].tolist()


# ---------------------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=10_000)
    ap.add_argument("--m", type=int, default=5, help="Barabási–Albert attachment (mean degree 2m)")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--beta", type=float, default=0.03, help="infection chance per infected tie")
    ap.add_argument("--mu", type=float, default=0.1, help="recovery chance per step")
    ap.add_argument("--initial", type=float, default=0.05, help="share infected at step 0")
    ap.add_argument("--repeats", type=int, default=5, help="runs per implementation (medians)")
    ap.add_argument("--peerwell-repeats", type=int, default=0,
                    help="runs of peerwell per thread count (default: max(15, repeats))")  # fmt: skip
    ap.add_argument("--seed", type=int, default=1)
    return ap.parse_args(argv)


def summarise(row: dict, n: int, steps: int, window: int) -> None:
    """Median speed, mean trajectory and the endemic mean (± SE over runs) of one row, in place."""
    row["seconds"] = statistics.median(s for s, _ in row["runs"])
    row["rate"] = n * steps / row["seconds"]
    trajs = np.array([t for _, t in row["runs"]])
    row["trajectory"] = trajs.mean(axis=0).tolist()
    means = [window_mean(t, window) for t in trajs]
    row["endemic_runs"] = means
    row["endemic"] = float(np.mean(means))
    row["endemic_se"] = (
        float(np.std(means, ddof=1) / math.sqrt(len(means))) if len(means) > 1 else 0.0
    )
    row["runs"] = len(row["runs"])


def agreement(rows: dict, a: str, b: str, n: int) -> dict:
    """Do rows ``a`` and ``b`` have the same endemic mean? Within 4 SE of the difference + 1/N.

    The SE pools the run-to-run spread of both rows (the same process on the same graph has the
    same spread, whatever the implementation), which a handful of runs estimates far better than
    each row's own.
    """
    x, y = rows[a]["endemic_runs"], rows[b]["endemic_runs"]
    diff = rows[a]["endemic"] - rows[b]["endemic"]
    dof = len(x) + len(y) - 2
    if dof > 0:
        pooled = (np.var(x, ddof=1) * (len(x) - 1) if len(x) > 1 else 0.0) + (
            np.var(y, ddof=1) * (len(y) - 1) if len(y) > 1 else 0.0
        )
        se = math.sqrt(pooled / dof * (1 / len(x) + 1 / len(y)))
    else:
        se = 0.0
    tol = 4 * se + 1 / n
    return {
        "a": a,
        "b": b,
        "difference": diff,
        "se": se,
        "tolerance": tol,
        "agree": abs(diff) <= tol,
    }


def plan(a: argparse.Namespace, workdir: Path) -> tuple[Plan, dict]:
    """Build the graph, write it as an edge list for peerwell; one task, in a 2-thread process."""
    g = build_graph(a.people, a.m, a.seed)
    infected = initial_infected(a.people, a.initial, a.seed)
    edges = workdir / "ba.edgelist"
    np.savetxt(edges, np.asarray(list(g.edges()), dtype=np.int64), fmt="%d")
    infected_file = workdir / "infected.npy"
    np.save(infected_file, infected)
    repeats = a.peerwell_repeats or max(15, a.repeats)
    ndlib = ndlib_available()
    task = {"task": "sis", "edges": str(edges), "infected": str(infected_file), "n": a.people,
            "m": a.m, "beta": a.beta, "mu": a.mu, "steps": a.steps, "repeats": repeats,
            "seed": a.seed, "ndlib": ndlib is not None}  # fmt: skip
    return {2: [task]}, {"graph": g, "infected": infected, "repeats": repeats, "ndlib": ndlib}


def spread(values: list[float]) -> dict[str, float]:
    """Median and range of per-round ratios."""
    return {"median": statistics.median(values), "low": min(values), "high": max(values)}


def report(a: argparse.Namespace, ctx: dict, results: Plan) -> dict:
    """Run Mesa here, print the tables, return the figures."""
    n, steps = a.people, a.steps
    window = max(1, steps // 2)
    print(f"SIS on one Barabási–Albert graph: {n:,} people, m={a.m}, {steps} steps, "
          f"β={a.beta:g} per infected tie, μ={a.mu:g}, {a.initial:.0%} infected at step 0")  # fmt: skip
    g, infected = ctx["graph"], ctx["infected"]
    w = results[2][0]
    every = w["threads"]
    rows: dict[str, dict] = {}

    ndlib_version = ctx["ndlib"]
    ndlib_note = None
    if ndlib_version is None:
        ndlib_note = f"NDlib is not installed, its row is skipped: {NDLIB_INSTALL}"
        print(f"skipping NDlib. {ndlib_note}")
    else:
        rows["ndlib"] = {"label": f"NDlib {ndlib_version} SISModel", "runs": w["ndlib"]}

    import mesa

    for refractory in (False, True):
        runs = [run_mesa(g, infected, a.beta, a.mu, steps, a.seed + r, refractory)
                for r in range(a.repeats)]  # fmt: skip
        key = "mesa_refractory" if refractory else "mesa"
        label = f"idiomatic Mesa {mesa.__version__}, agent per node"
        rows[key] = {"label": label + (" + refractory day" if refractory else ""), "runs": runs}

    for t, runs in w["bare"].items():
        rows[f"bare_{t}"] = {
            "label": f"bare Numba SIS kernel (the floor), {t} thread{'s' if t != '1' else ''}",
            "runs": runs,
        }
    pw = w["peerwell"]
    for t, r in pw.items():
        what = (f"automatic threads ({w['auto_threads']})" if t == "auto"
                else f"{t} thread{'s' if t != '1' else ''}")  # fmt: skip
        rows[f"peerwell_{t}"] = {
            "label": f"peerwell production kernels, {what}",
            "runs": list(zip(r["times"], r["trajectories"])),
        }
    times = {k: [sec for sec, _ in row["runs"]] for k, row in rows.items()}
    identical = len({r["digest"] for r in pw.values()}) == 1
    whole = n * steps / statistics.median(w["whole"])  # node-updates/s of the whole day (auto)
    for row in rows.values():
        summarise(row, n, steps, window)

    # Speed: per-round ratios to the same round's NDlib run
    base_key = "ndlib" if "ndlib" in rows else "mesa"
    base = rows[base_key]
    short = "NDlib" if base_key == "ndlib" else "Mesa"
    paired = {}
    if base_key == "ndlib":
        for k in rows:
            if k.startswith(("peerwell_", "bare_")):
                paired[k] = spread([b / x for b, x in zip(times["ndlib"], times[k])])
    width = max(len(r["label"]) for r in rows.values())
    print(f"\n{'implementation':<{width}}  node-updates/s  × {short:<5}  × Mesa  "
          f"× NDlib per round: median [range]")  # fmt: skip
    for k, r in rows.items():
        pr = paired.get(k)
        per_round = f"  {pr['median']:.1f} [{pr['low']:.1f}–{pr['high']:.1f}]" if pr else ""
        print(f"{r['label']:<{width}}  {r['rate']:>14.3g}  {r['rate'] / base['rate']:>7.1f}"
              f"  {r['rate'] / rows['mesa']['rate']:>6.1f}{per_round}")  # fmt: skip
    two = str(every)
    floor = {t: rows[f"peerwell_{t}"]["rate"] / rows[f"bare_{t}"]["rate"] for t in ("1", two)}
    print(f"peerwell's production kernels run at {floor['1']:.2f} (1 thread) and {floor[two]:.2f} "
          f"({two} threads) of the bare kernel's rate: like it, only the susceptible gather (the "
          "flows are computed where they are read, ODD §3); the rest is the model's second pass "
          "(posting), its full belief rule and Mesa's step")  # fmt: skip
    speedup = rows[f"peerwell_{two}"]["rate"] / rows["peerwell_1"]["rate"]
    print(f"peerwell {two} threads vs 1: {speedup:.2f}x; the automatic choice runs "
          f"{w['auto_threads']} at {n:,} people; trajectories and final state arrays "
          f"bit-identical for 1, {two} and automatic threads: {identical}")  # fmt: skip
    print(f"peerwell with every submodel running (the whole day, automatic threads): {whole:.3g} "
          f"node-updates/s, {whole / base['rate']:.1f}× {short}; belief counts identical to the "
          f"SIS configuration's: {w['whole_same']}")  # fmt: skip

    # Prevalence
    keys = list(rows)
    every_step = max(1, steps // 10)
    print(f"\nprevalence (infected share, mean of the runs) every {every_step} steps:")
    print("step  " + "  ".join(f"{k:>15}" for k in keys))
    for s in range(0, steps + 1, every_step):
        print(f"{s:>4}  " + "  ".join(f"{rows[k]['trajectory'][s]:>15.4f}" for k in keys))
    print(f"\nendemic prevalence, mean over the last {window} steps (± SE over runs):")
    for k in keys:
        r = rows[k]
        print(
            f"  {r['label']:<{width}}  {r['endemic']:.4f} ± {r['endemic_se']:.4f}  ({r['runs']} runs)"
        )
    pairs = [("peerwell_1", "mesa_refractory"), (f"peerwell_{two}", "mesa_refractory")]
    if "ndlib" in rows:
        pairs[:0] = [("mesa", "ndlib"), (f"bare_{two}", "ndlib")]
    checks = [agreement(rows, x, y, n) for x, y in pairs]
    print("agreement (|difference| within 4 pooled SE of the difference + 1/N):")
    for c in checks:
        print(f"  {c['a']:<11} vs {c['b']:<15} {c['difference']:+.4f}  tolerance {c['tolerance']:.4f}"
              f"  {'agree' if c['agree'] else 'DISAGREE'}")  # fmt: skip
    gap = rows[f"peerwell_{two}"]["endemic"] - base["endemic"]
    print(f"  peerwell − {base_key} (the refractory day, not checked): {gap:+.4f}; "
          f"μ·I = {a.mu * base['endemic']:.4f}")  # fmt: skip
    print(f"\nWhat differs: {SEMANTICS}")
    if ndlib_note:
        print(f"\nnote: {ndlib_note}")
    result = {
        "people": n, "m": a.m, "steps": steps, "beta": a.beta, "mu": a.mu,
        "initial": a.initial, "repeats": a.repeats, "peerwell_repeats": ctx["repeats"],
        "ties": int(g.number_of_edges()), "window": window, "base": base_key,
        "ndlib_version": ndlib_version, "ndlib_note": ndlib_note, "rows": rows,
        "threads": every, "auto_threads": w["auto_threads"], "paired": paired,
        "threads_speedup": speedup, "bit_identical": identical,
        "share_of_floor": floor, "whole_day_rate": whole, "whole_day_same": w["whole_same"],
        "checks": checks, "agree": all(c["agree"] for c in checks), "refractory_gap": gap,
        "semantics": SEMANTICS,
    }  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> dict:
    a = parse(argv)
    with tempfile.TemporaryDirectory(prefix="peerwell-bench-sis-") as tmp:
        tasks, ctx = plan(a, Path(tmp))
        return report(a, ctx, run_each(tasks))


if __name__ == "__main__":
    main()
