"""Bayesian calibration by approximate Bayesian computation (``peerwell calibrate method=abc``).

ABC-SMC (Toni et al. 2009; Beaumont et al. 2009) with **pyabc** (Schälte et al. 2022): a
sequence of particle populations, each accepted under a smaller distance than the last, moving
from the priors (``conf/evidence/priors.yaml``, the parameters the Morris screen selected) to
an approximate posterior. Why pyabc: it is the maintained ABC-SMC library for stochastic
simulators (adaptive thresholds, multivariate-normal proposals fitted to the last population),
it keeps every generation in a database (an interrupted calibration resumes from its last
finished generation), and its samplers run the model on local processes or on a Dask cluster
(``launcher=dask address=...``, the cluster ``hydra/launcher=dask`` sweeps use) without changing the calibration.

**Model.** One particle runs the fitted scenarios (baseline and the moderated community) with
its parameter values set on the scenarios composed once (no Hydra composition, no interpreter
per run: :func:`peerwell.scenarios.evidence.calibrate.measure_point`), on a seed derived from
the root seed and the values (the same particle gives the same result). **Distance:** the
Euclidean norm of the calibration residuals of ``calibrate.fit_residuals`` (each fitted anchor's
simulated − published in units of the published standard error; a span of studies is 0 inside
it) — the function that refuses any held-out target, so no held-out figure can enter the fit.

The parameters fitted are the screen's ``fitted`` ones (``conf/evidence/screen.csv``: those
the targets identify); the rest it selected are **carried**: they join ``posterior.parquet`` at
their priors (one independent draw per particle), so a comparison carries their uncertainty too.

Output in ``output_dir``: ``posterior.parquet`` (the last population: a column per parameter,
``weight``), ``diagnostics.json`` (per generation: threshold, particles, simulations,
acceptance rate, effective sample size), ``ppc.csv`` (each calibration target's posterior
predictive mean and 95% interval against the published figure), ``posterior.csv`` (each
parameter's prior, default, posterior mean and 95% credible interval), ``abc.md``, the figures
``figures/marginals.png`` and ``figures/pairwise.png``, and ``abc.db`` (pyabc's history).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from peerwell.scenarios.evidence import calibrate as C
from peerwell.scenarios.evidence.anchors import Anchor, anchors
from peerwell.scenarios.evidence.priors import Prior, load_priors, screened
from peerwell.scenarios.experiments.store import atomic_write_bytes
from peerwell.simulation.errors import ConfigError

# budget word: (total model evaluations, particles per generation)
BUDGETS = {"small": (300, 40), "default": (6000, 300)}
MIN_ACCEPTANCE = 0.01  # a generation accepting fewer than 1 in 100 ends the run: further
# generations would cost more than the whole budget for little narrowing
DB = "abc.db"
CARRIED_STREAM = 0xCA  # the draws of the carried parameters: a stream apart from pyabc's
CONFIG = "abc_config.json"


def budget_of(value: str | int) -> tuple[int, int]:
    """``(evaluations, population)`` of a ``budget=`` value: a word of ``BUDGETS`` or a number
    of model evaluations (the population is then a tenth of it, 20 to 300)."""
    if isinstance(value, str) and value in BUDGETS:
        return BUDGETS[value]
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"budget={value}: give a number of model evaluations or one of {', '.join(BUDGETS)}"
        ) from None
    if n < 60:
        raise ConfigError(f"budget={n}: ABC needs at least 60 model evaluations")
    return n, int(min(300, max(20, n // 10)))


def particle_seed(root: int, values: Sequence[float]) -> int:
    """A run seed from the root seed and the particle's values (bit patterns): a particle's
    result depends on its values only, whichever worker runs it and whenever."""
    words = [int(root) & (2**64 - 1)]
    words += [struct.unpack("<Q", struct.pack("<d", float(v)))[0] for v in values]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0] >> 1)


class Simulator:
    """pyabc's model: a parameter set → the fitted anchors' measurements (picklable for the
    samplers' workers)."""

    def __init__(
        self, base, names: list[str], measures: list[str], seed: int, priors: Sequence[Prior] = ()
    ):
        self.base, self.names, self.measures, self.seed = base, names, measures, seed
        self.priors = {p.name: p for p in priors}  # sampled unbounded: see `sampling_prior`

    def __call__(self, parameter) -> dict[str, float]:
        values = {  # given as sampled (z), or as values when the simulator has no priors
            n: natural(self.priors[n], float(parameter[n])) if n in self.priors
            else float(parameter[n])
            for n in self.names
        }  # fmt: skip
        rep = C.measure_point(self.base, values, particle_seed(self.seed, values.values()))
        return {m: float(rep.get(m, math.nan)) for m in self.measures}


def natural(prior: Prior, z: float) -> float:
    """A parameter's value from the unbounded value ABC samples (see :func:`sampling_prior`)."""
    u = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0  # the prior's quantile
    return float(prior.ppf(u))


def sampling_prior(fit: Sequence[Prior]):
    """pyabc's prior: every parameter sampled as z = logit(F(value)), F its prior's CDF, so z is
    standard logistic whatever the prior, and unbounded. Sampled in its own value, a bounded
    prior lets the proposal kernels leak out of the range near its ends, and a log-uniform one
    has a density that varies 4-fold across it; ABC-SMC's importance weights (prior / proposal)
    carried both: on this model the effective sample size fell to 6 of 300 particles by the
    fourth generation, the heaviest particles sitting at the ends of their ranges."""
    import pyabc

    return pyabc.Distribution(**{p.name: pyabc.RV("logistic", 0.0, 1.0) for p in fit})


class Distance:
    """Norm of the calibration residuals (``calibrate.fit_residuals``: held-out names refused);
    infinite when a fitted anchor could not be measured."""

    def __init__(self, fitted: list[Anchor]):
        self.fitted = fitted

    def __call__(self, x: dict, x_0: dict | None = None) -> float:
        res, names = C.fit_residuals(self.fitted, [x])
        if len(names) < len(self.fitted):
            return math.inf
        return float(np.sqrt(np.sum(res**2)))


def fitted_anchors(base) -> list[Anchor]:
    return [a for a in anchors(base["baseline"]) if a.fit and (a.se() or a.target is None)]


LAUNCHERS = ("local", "dask")


def _sampler(n_jobs: int, launcher: str, address: str | None):
    """pyabc's sampler: one process (reproducible to the bit), local workers (loky's reusable
    executor: each worker imports peerwell once and runs particles in batches), or a Dask
    cluster."""

    from pyabc import sampler as S

    if launcher not in LAUNCHERS:
        raise ConfigError(f"launcher={launcher}: choose one of {', '.join(LAUNCHERS)}")
    if launcher == "dask":
        try:
            import dask
            from distributed import Client
        except ImportError:
            raise ConfigError(
                "launcher=dask needs peerwell[dask] (pip install 'peerwell[dask]')"
            ) from None
        # as the sweeps' Dask launcher: the address given, else Dask's configured scheduler
        address = address or dask.config.get("scheduler-address", None)
        if not address:
            raise ConfigError(
                "launcher=dask needs address=tcp://HOST:PORT (or DASK_SCHEDULER_ADDRESS)"
            )
        try:
            client = Client(address, timeout=30)
        except OSError as exc:
            raise ConfigError(f"address={address}: cannot connect ({exc})") from None
        return S.DaskDistributedSampler(dask_client=client, batch_size=4), client
    executor, workers = local_executor(n_jobs)
    if executor is None:
        return S.SingleCoreSampler(), None
    return S.ConcurrentFutureSampler(executor, client_max_jobs=workers * 2, batch_size=1), executor


def local_executor(n_jobs: int):
    """``(executor, workers)``: loky worker processes that stay up for the whole calibration (each
    imports peerwell and loads the kernels once, then runs particle after particle), each with
    its share of the cores for Numba; ``(None, 1)`` for one worker (run in this process)."""
    import os

    from joblib import effective_n_jobs
    from joblib.externals.loky import get_reusable_executor

    workers = effective_n_jobs(n_jobs)
    if workers <= 1:
        return None, 1
    threads = max(1, (os.cpu_count() or 1) // workers)
    executor = get_reusable_executor(
        max_workers=workers, env={"NUMBA_NUM_THREADS": str(threads)}, reuse=False
    )
    return executor, workers


def settings_of(overrides, fit: list[Prior], carried: list[Prior], seed: int, population: int):
    return {
        "overrides": list(overrides),
        "parameters": [p.__dict__ for p in fit],
        "carried": [p.__dict__ for p in carried],
        "space": "logit of the prior's CDF",
        "seed": seed,
        "population": population,
    }


def run_abc(
    overrides: Sequence[str] = (),
    *,
    output_dir: str | Path,
    budget: str | int = "default",
    population: int | None = None,
    seed: int = 1,
    n_jobs: int = -1,
    launcher: str = "local",
    address: str | None = None,
    priors_path: str | Path | None = None,
    screen_path: str | Path | None = None,
    notify: Callable[[str], None] = print,
) -> dict:
    """Fit the screened parameters to the calibration targets by ABC-SMC; write the outputs.

    Resumes: an ``output_dir`` holding a calibration with the same settings continues from its
    last finished generation until ``budget`` evaluations in all; other settings are refused.

    Returns
    -------
    dict
        ``posterior`` (DataFrame), ``diagnostics``, ``ppc`` (DataFrame), ``summary`` (DataFrame),
        ``seconds``, ``resumed``.
    """
    import pyabc

    t0 = time.perf_counter()
    evaluations, pop = budget_of(budget)
    population = int(population or pop)
    if population < 10:
        raise ConfigError(f"population={population}: ABC-SMC needs at least 10 particles")
    priors = load_priors(priors_path)
    fit = screened(priors, screen_path, "fitted")
    carried = [p for p in screened(priors, screen_path) if p not in fit]
    base = C.scenario_params(overrides, C.FIT_SCENARIOS)
    fitted = fitted_anchors(base)
    measures = [a.measure for a in fitted]
    out = Path(output_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    settings = settings_of(overrides, fit, carried, seed, population)
    db_url = f"sqlite:///{out / DB}"
    resumed = (out / DB).is_file() and (out / CONFIG).is_file()
    if resumed:
        before = json.loads((out / CONFIG).read_text())
        if before != settings:
            raise ConfigError(
                f"output_dir={out} holds a calibration with other settings "
                f"({', '.join(k for k in settings if settings[k] != before.get(k))}); "
                "give another output_dir or the same settings to resume it"
            )
    elif (out / DB).exists():
        (out / DB).unlink()  # a database without its settings: an interrupted first write
    # One run at the defaults (it also compiles the kernels before the workers start): a target
    # this scale cannot measure (retention needs a cohort of 20 joiners) is left out of the fit.
    at_defaults = C.measure_point(base, {}, particle_seed(seed, ()))
    unmeasured = [a.id for a in fitted if not math.isfinite(at_defaults.get(a.measure, math.nan))]
    if unmeasured:
        notify(f"abc: left out of the fit, not measurable at N = "
               f"{base['baseline'].population.size}: {', '.join(unmeasured)}")  # fmt: skip
        fitted = [a for a in fitted if a.id not in unmeasured]
        measures = [a.measure for a in fitted]
    if not fitted:
        raise ConfigError("abc: no calibration target can be measured at this scale")
    prior = sampling_prior(fit)
    sampler, resource = _sampler(n_jobs, launcher, address)
    sampler.show_progress = False
    np.random.seed(seed % 2**32)  # noqa: NPY002  (pyabc draws from NumPy's global generator)
    abc = pyabc.ABCSMC(
        Simulator(base, [p.name for p in fit], measures, seed, fit),
        prior,
        Distance(fitted),
        population_size=population,
        sampler=sampler,
    )
    observed = {a.measure: float(a.target if a.target is not None else (a.lo + a.hi) / 2)
                for a in fitted}  # fmt: skip
    if resumed:
        abc.load(db_url, 1)
        notify(f"abc: resuming {out / DB} at generation {abc.history.max_t + 1}, "
               f"{abc.history.total_nr_simulations} of {evaluations} evaluations done")  # fmt: skip
    else:
        abc.new(db_url, observed)
        atomic_write_bytes(out / CONFIG, (json.dumps(settings, indent=1) + "\n").encode())
        notify(f"abc: {len(fit)} parameters, {len(fitted)} calibration targets, population "
               f"{population}, budget {evaluations} evaluations")  # fmt: skip
    try:
        if abc.history.total_nr_simulations < evaluations:
            abc.run(max_total_nr_simulations=evaluations, min_acceptance_rate=MIN_ACCEPTANCE)
    finally:
        if resource is not None:
            (resource.close if hasattr(resource, "close") else resource.shutdown)()
    result = summarise_history(abc.history, fit, fitted, base, carried, seed)
    result.update(seconds=round(time.perf_counter() - t0, 1), resumed=resumed, carried=carried,
                  settings=settings, evaluations_budget=evaluations, unmeasured=unmeasured)  # fmt: skip
    write(result, out, fit)
    return result


def weighted_quantiles(x: np.ndarray, w: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Quantiles of a weighted sample (inverse of the weighted empirical CDF, midpoints)."""
    order = np.argsort(x)
    x, w = np.asarray(x, float)[order], np.asarray(w, float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return [float(np.interp(q, cdf, x)) for q in qs]


def summarise_history(
    history,
    fit: list[Prior],
    fitted: list[Anchor],
    base,
    carried: Sequence[Prior] = (),
    seed: int = 1,
) -> dict:
    """Posterior, diagnostics and posterior predictive checks from a pyabc history.

    The ``carried`` parameters (selected by the screen, not identified by the targets) join the
    posterior at their priors: one independent draw per particle, from a stream of their own
    (``SeedSequence([seed, CARRIED_STREAM])``), so the file is the same for the same history."""
    from pyabc.weighted_statistics import effective_sample_size

    from peerwell.simulation.params import get_param

    t_last = history.max_t
    df, w = history.get_distribution(m=0, t=t_last)
    names = [p.name for p in fit]
    posterior = df[names].reset_index(drop=True).astype(float)
    for p in fit:  # back from the space ABC sampled in
        posterior[p.name] = [natural(p, z) for z in posterior[p.name]]
    posterior["weight"] = np.asarray(w, float) / np.sum(w)
    posterior.columns.name = None  # pyabc names its column index
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, CARRIED_STREAM])))
    for p in carried:
        posterior.insert(posterior.columns.get_loc("weight"), p.name, p.ppf(rng.random(len(df))))
    pops = history.get_all_populations()
    generations = []
    for _, row in pops[pops["t"] >= 0].iterrows():
        t = int(row["t"])
        _, wt = history.get_distribution(m=0, t=t)
        generations.append({
            "generation": t, "epsilon": float(row["epsilon"]),
            "particles": int(row["particles"]), "simulations": int(row["samples"]),
            "acceptance_rate": float(row["particles"]) / max(1, int(row["samples"])),
            "effective_sample_size": float(effective_sample_size(np.asarray(wt, float))),
        })  # fmt: skip
    weights, stats = history.get_weighted_sum_stats(t=t_last)
    weights = np.asarray(weights, float)
    ppc_rows = []
    for a in fitted:
        y = np.array([s.get(a.measure, math.nan) for s in stats], float)
        ok = np.isfinite(y)
        lo, mid, hi = weighted_quantiles(y[ok], weights[ok], (0.025, 0.5, 0.975))
        mean = float(np.average(y[ok], weights=weights[ok]))
        published = a.target if a.target is not None else math.nan
        covered = (lo <= published <= hi) if a.target is not None else (hi >= a.lo and lo <= a.hi)
        ppc_rows.append({
            "target": a.id, "measure": a.measure, "published": published,
            "published_lo": a.lo, "published_hi": a.hi, "predictive_mean": mean,
            "predictive_median": mid, "predictive_lo": lo, "predictive_hi": hi,
            "covered": bool(covered),
        })  # fmt: skip
    summary_rows = []
    for p in [*fit, *carried]:
        x = posterior[p.name].to_numpy()
        lo, mid, hi = weighted_quantiles(x, posterior["weight"].to_numpy(), (0.025, 0.5, 0.975))
        summary_rows.append({
            "parameter": p.name, "prior": p.text(), "basis": p.basis, "fitted": p in fit,
            "default": float(get_param(base["baseline"], p.name)),
            "posterior_mean": float(np.average(x, weights=posterior["weight"])),
            "posterior_median": mid, "ci_low": lo, "ci_high": hi,
            "narrowing": 1 - (hi - lo) / (p.ppf(0.975) - p.ppf(0.025)),
        })  # fmt: skip
    return {
        "posterior": posterior,
        "diagnostics": {
            "generations": generations,
            "total_simulations": int(history.total_nr_simulations),
            "final_effective_sample_size": generations[-1]["effective_sample_size"],
            "method": "ABC-SMC (pyabc "
            + __import__("pyabc").__version__
            + "): median-quantile thresholds, multivariate normal proposals",
        },
        "ppc": pd.DataFrame(ppc_rows),
        "summary": pd.DataFrame(summary_rows),
    }


def write(result: dict, out: Path, fit: list[Prior]) -> None:
    """The output files of the module docstring (each written whole, atomically)."""
    import io

    buf = io.BytesIO()
    result["posterior"].to_parquet(buf, index=False)
    atomic_write_bytes(out / "posterior.parquet", buf.getvalue())
    atomic_write_bytes(out / "ppc.csv", result["ppc"].to_csv(index=False).encode())
    atomic_write_bytes(out / "posterior.csv", result["summary"].to_csv(index=False).encode())
    diag = dict(result["diagnostics"])
    diag.update(settings=result["settings"], seconds=result["seconds"],
                targets=list(result["ppc"]["target"]), left_out=result["unmeasured"],
                resumed=result["resumed"], budget=result["evaluations_budget"],
                created=datetime.now(UTC).isoformat(timespec="seconds"),
                posterior_sha256=hashlib.sha256(buf.getvalue()).hexdigest())  # fmt: skip
    atomic_write_bytes(out / "diagnostics.json", (json.dumps(diag, indent=1) + "\n").encode())
    figures(result["posterior"], fit, out / "figures", result["carried"])
    atomic_write_bytes(out / "abc.md", report_markdown(result).encode())


def figures(
    posterior: pd.DataFrame, fit: list[Prior], folder: Path, carried: Sequence[Prior] = ()
) -> None:
    """``marginals.png`` (each fitted parameter's weighted posterior over its prior's range) and
    ``pairwise.png`` (every pair of fitted parameters, points sized by weight)."""
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    w = posterior["weight"].to_numpy()
    k = len(fit)
    cols = min(4, k)
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, p in zip(axes.flat, fit):
        ax.hist(posterior[p.name], bins=20, range=(p.lo, p.hi), weights=w, density=True,
                color="C0", alpha=0.8, label="posterior")  # fmt: skip
        xs = np.linspace(p.lo, p.hi, 200)
        ax.plot(xs, p.frozen().pdf(xs), color="0.3", lw=1, label="prior")
        ax.set_title(p.name, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[k:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, folder / "marginals.png")
    fig, axes = plt.subplots(k, k, figsize=(1.6 * k, 1.6 * k), squeeze=False)
    size = 4 + 60 * w / w.max()
    for i, pi in enumerate(fit):
        for j, pj in enumerate(fit):
            ax = axes[i, j]
            if i == j:
                ax.hist(posterior[pi.name], bins=15, range=(pi.lo, pi.hi), weights=w, color="C0")
            else:
                ax.scatter(posterior[pj.name], posterior[pi.name], s=size, alpha=0.4, lw=0)
                ax.set_xlim(pj.lo, pj.hi)
                ax.set_ylim(pi.lo, pi.hi)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == k - 1:
                ax.set_xlabel(pj.name.split(".")[-1], fontsize=6)
            if j == 0:
                ax.set_ylabel(pi.name.split(".")[-1], fontsize=6)
    fig.tight_layout()
    _save(fig, folder / "pairwise.png")


def _save(fig, path: Path) -> None:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def report_markdown(result: dict) -> str:
    """``abc.md``: the posterior, the diagnostics and the posterior predictive checks."""
    from peerwell.analysis.tables import markdown_table

    d = result["diagnostics"]
    s = result["summary"]
    ppc = result["ppc"]
    lines = [
        "# Bayesian calibration (ABC-SMC)\n",
        f"{d['method']}; {d['total_simulations']} model evaluations in "
        f"{len(d['generations'])} generations ({result['seconds']} s"
        f"{', resumed' if result['resumed'] else ''}); final effective sample size "
        f"{d['final_effective_sample_size']:.0f}.\n",
        "## Posterior\n",
        markdown_table(
            [
                "parameter",
                "prior",
                "default",
                "posterior mean",
                "95% credible interval",
                "narrowing",
            ],
            [
                [
                    r.parameter + ("" if r.fitted else " (carried at its prior)"),
                    r.prior,
                    f"{r.default:.4g}",
                    f"{r.posterior_mean:.4g}",
                    f"[{r.ci_low:.4g}, {r.ci_high:.4g}]",
                    f"{100 * r.narrowing:.0f}%",
                ]
                for r in s.itertuples()
            ],
        ),
        "\nNarrowing: 1 − (width of the 95% credible interval) / (width of the prior's).\n",
        "## Generations\n",
        markdown_table(
            ["generation", "threshold", "simulations", "acceptance", "ESS"],
            [
                [
                    g["generation"],
                    f"{g['epsilon']:.3g}",
                    g["simulations"],
                    f"{100 * g['acceptance_rate']:.1f}%",
                    f"{g['effective_sample_size']:.0f}",
                ]
                for g in d["generations"]
            ],
        ),
        "\n## Posterior predictive check of the calibration targets\n",
        f"{int(ppc['covered'].sum())} of {len(ppc)} published figures lie in the 95% "
        "posterior predictive interval (one run per particle: parameter and stochastic "
        "uncertainty).\n",
        markdown_table(
            ["target", "published", "predictive mean", "95% predictive interval", "covered"],
            [
                [
                    r.target,
                    _pub(r),
                    f"{r.predictive_mean:.3g}",
                    f"[{r.predictive_lo:.3g}, {r.predictive_hi:.3g}]",
                    "yes" if r.covered else "**no**",
                ]
                for r in ppc.itertuples()
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


def _pub(r) -> str:
    if math.isfinite(r.published):
        return f"{r.published:.3g} [{r.published_lo:.3g}, {r.published_hi:.3g}]"
    return f"[{r.published_lo:.3g}, {r.published_hi:.3g}]"
