"""Calibration: the baseline against the empirical anchors of the model brief (`peerwell calibrate`).

Every anchor the model can express is an :class:`~peerwell.scenarios.evidence.anchors.Anchor`
of ``anchors.py`` (the fact, its source, what is measured in which scenario and on which day, the
target, and the tolerance with the reason for it); this module runs the model and measures it.

Runs: the ``baseline`` scenario (most anchors), ``offline_only`` (the paired contrasts: what a
year online changes, with common random numbers), and ``moderated_community`` (HORYZONS-like
moderated community: retention of a cohort of joiners). Each run is a :class:`PeerwellModel` whose
state arrays are read after every day (``probe``) for what the recorder does not keep (cohort
retention, same-day correction, hostility by diagnosis, care by activation level).

``fit=true`` fits the declared free parameters (``FIT_PARAMS``) to the two-sided anchors with
``scipy.optimize.least_squares`` (trust-region reflective, bounds, finite-difference Jacobian on
common random numbers), reports each value with its standard error from the Jacobian at the
optimum (the anchors' own uncertainty propagated: residuals are in units of the anchor's
standard error), and writes a scenario file runnable as
``peerwell run --config-dir OUTPUT_DIR scenario=calibrated``.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from peerwell.analysis.tables import markdown_table
from peerwell.scenarios.catalogue import load_scenario
from peerwell.scenarios.evidence.anchors import Anchor, anchors, not_checked
from peerwell.scenarios.evidence.targets import assert_calibration_only
from peerwell.scenarios.experiments.replicates import replicate_seeds, run_parallel
from peerwell.scenarios.experiments.store import atomic_write_bytes
from peerwell.simulation.errors import ConfigError
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import DIAGNOSES, ModelParams, community_names, get_param
from peerwell.simulation.recorder import PAM_CUTS, STIGMA_MODERATE_HIGH

SCENARIOS = ("baseline", "offline_only", "moderated_community")
COHORT = (30, 91)  # joiners on days 30-90 (the moderated community opens on day 30)
# The community whose joiners are the retention cohort, when the run has it (moderated_community);
# otherwise the cohort is everyone who first joins any community on those days.
COHORT_COMMUNITY = "horyzons"
DAYS_6M, DAYS_9M = 183, 274  # 182.6 and 273.9 days, rounded up

# ---------------------------------------------------------------------------------------------
# Measuring one run


def probe(params: ModelParams) -> dict[str, float]:
    """Run ``params`` to its last day and return the measurements the anchors read.

    Day-by-day the state arrays give what the recorder does not keep: the cohort of joiners on
    days 30-90 (of ``COHORT_COMMUNITY`` when the run has it: retention at 6 and 9 months is the
    share still in it, never having left or moved on), misleading posts and whether their author was
    corrected that day, hostile comments by diagnosis, and health posts met.
    """
    params = _quiet(params)
    m = PeerwellModel(params, agent_views=False, daily_flows=True)  # read below every day
    st = m.state
    n = params.population.size
    dx = st.static["diagnosis"]
    join_day = np.full(n, -1, dtype=np.int64)
    leave_day = np.full(n, -1, dtype=np.int64)
    host = np.zeros(2)
    person_days = np.zeros(2)
    mis_posts = corrected_posts = 0
    lam_mis = lam_acc = 0.0
    schizo = dx == 0
    names = community_names(params)
    home = names.index(COHORT_COMMUNITY) if COHORT_COMMUNITY in names else -1
    while m.running:
        day = m.day
        m.step()
        f, y = st.scratch, st.cur
        online = y["community"] >= 0
        for k, group in enumerate((schizo, ~schizo)):
            sel = online & group
            person_days[k] += sel.sum()
            host[k] += f["hostile"][sel].sum()
        pm = f["post_misinfo"] == 1
        mis_posts += int(pm.sum())
        corrected_posts += int((pm & (f["corrected"] == 1)).sum())
        lam_mis += float(f["lam_misinfo"].sum())
        lam_acc += float(f["lam_accurate"].sum())
        if COHORT[0] <= day < COHORT[1]:
            new = (f["joined"] == 1) & (join_day < 0)
            if home >= 0:
                new &= y["community"] == home
            join_day[new] = day
        # A stay ends on leaving; in COHORT_COMMUNITY also on moving on to another community.
        ended = (y["community"] != home) if home >= 0 else (f["left"] == 1)
        gone = ended & (join_day >= 0) & (leave_day < 0)
        leave_day[gone] = day
    s = m.summary
    last = m.day - 1  # the last step run
    out = {
        k: s[k]
        for k in (
            "online_share", "ever_posted_share", "content_share_lurker", "content_share_contributor",
            "content_share_superuser", "stigma_moderate_high_share", "empowerment_mean",
            "recovery_mean", "belonging_mean", "care_seeking_share", "misinformation_belief_mean",
        )
    }  # fmt: skip
    for d in DIAGNOSES:
        out[f"activation_mean_{d}"] = s[f"activation_mean_{d}"]
    # People's spread on the last day, for the held-out effect sizes (standardised differences
    # between scenarios, evidence.py); and the outcomes they contrast that the anchors do not read.
    out["wellbeing_mental_mean"] = s["wellbeing_mental_mean"]
    out["employed_share"] = s["employed_share"]
    for state in ("empowerment", "recovery", "wellbeing_mental", "belonging"):
        out[f"{state}_sd"] = float(st.cur[state].std())
    out["people"] = float(n)
    for k in range(4):
        out[f"pam_L{k + 1}_share"] = s[f"pam_level{k + 1}_share"]
    stigma = st.cur["stigma"]
    out["stigma_moderate_high_schizophrenia"] = float(
        (stigma[schizo] > STIGMA_MODERATE_HIGH).mean()
    )
    level = np.digitize(st.cur["activation"], PAM_CUTS)
    care = st.cur["care"]
    unmet = [float(np.isin(care[level == k], (0, 3)).mean()) if (level == k).any() else math.nan
             for k in range(4)]  # fmt: skip
    for k in range(4):
        out[f"unmet_need_L{k + 1}"] = unmet[k]
    out["unmet_need_min_drop"] = float(min(unmet[k] - unmet[k + 1] for k in range(3)))
    rates = np.divide(host, person_days, out=np.full(2, math.nan), where=person_days > 0)
    out["hostility_ratio"] = float(rates[0] / rates[1]) if rates[1] > 0 else math.nan
    out["misleading_share"] = lam_mis / (lam_mis + lam_acc) if lam_mis + lam_acc > 0 else math.nan
    out["same_day_correction"] = corrected_posts / mis_posts if mis_posts else math.nan
    stay = np.where(leave_day >= 0, leave_day - join_day, np.iinfo(np.int64).max)
    for days, key in ((DAYS_6M, "retention_6m"), (DAYS_9M, "retention_9m")):
        followed = (join_day >= 0) & (join_day + days <= last)
        out[key] = float((stay[followed] >= days).mean()) if followed.sum() >= 20 else math.nan
    out["cohort_size"] = float((join_day >= 0).sum())
    return {k: float(v) for k, v in out.items()}


def _quiet(params: ModelParams) -> ModelParams:
    """The probe reads the summary of the last day only: skip the daily recording."""
    import copy

    p = copy.deepcopy(params)
    p.record_every = min(100_000, max(1, p.steps))
    return p


# ---------------------------------------------------------------------------------------------
# Replicates


def scenario_params(
    overrides: Sequence[str] = (), scenarios: Sequence[str] = SCENARIOS
) -> dict[str, ModelParams]:
    """The calibration scenarios with the same ``key=value`` overrides applied to each."""
    return {name: load_scenario(name, list(overrides)) for name in scenarios}


def run_probes(
    base: dict[str, ModelParams], seeds: Sequence[int], *, n_jobs: int = 1
) -> list[dict[str, float]]:
    """Every scenario at every seed; returns one flat dict per replicate (``scenario.measure``,
    and ``diff.measure`` = baseline - offline_only for the paired contrasts)."""
    import dataclasses

    jobs = [
        (name, r, dataclasses.replace(p, seed=s))
        for r, s in enumerate(seeds)
        for name, p in base.items()
    ]
    results: list[dict[str, float]] = [{} for _ in jobs]
    with contextlib.closing(run_parallel(probe, [(p,) for _, _, p in jobs], n_jobs=n_jobs)) as done:
        for i, res in done:
            results[i] = res
    reps: list[dict[str, float]] = [{} for _ in seeds]
    for (name, r, _), res in zip(jobs, results):  # in the jobs' order, whatever the finishing one
        reps[r].update({f"{name}.{k}": v for k, v in res.items()})
    return [_with_differences(rep) for rep in reps]


def _with_differences(rep: dict[str, float]) -> dict[str, float]:
    """Add ``diff.measure`` = baseline - offline_only for the paired contrasts, when both ran."""
    if "baseline.empowerment_mean" in rep and "offline_only.empowerment_mean" in rep:
        for k in ("empowerment_mean", "recovery_mean", "belonging_mean", "care_seeking_share"):
            rep[f"diff.{k}"] = rep[f"baseline.{k}"] - rep[f"offline_only.{k}"]
    return rep


def measure_point(
    base: dict[str, ModelParams], values: dict[str, float], seed: int
) -> dict[str, float]:
    """Every scenario of ``base`` with the parameter ``values`` set, on ``seed``: one flat dict
    as :func:`run_probes` gives per replicate. The values are set on the composed scenarios
    (``with_overrides``: checked, no Hydra composition), so a design of thousands of points costs
    only its runs."""
    import dataclasses

    from peerwell.simulation.params import with_overrides

    rep: dict[str, float] = {}
    for name, p in base.items():
        run = dataclasses.replace(with_overrides(p, values), seed=int(seed))
        rep.update({f"{name}.{k}": v for k, v in probe(run).items()})
    return _with_differences(rep)


def run_points(
    base: dict[str, ModelParams], points: Sequence[dict[str, float]], seed: int, *, n_jobs: int = 1
) -> list[dict[str, float]]:
    """:func:`measure_point` at every point (one seed for all: common random numbers), in the
    points' order; in parallel over the points (joblib, -1 all cores)."""
    results: list[dict[str, float]] = [{} for _ in points]
    jobs = [(base, dict(v), seed) for v in points]
    with contextlib.closing(run_parallel(measure_point, jobs, n_jobs=n_jobs)) as done:
        for i, res in done:
            results[i] = res
    return results


def summarise(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and t-based 95% interval over replicates (NaN interval for one replicate)."""
    x = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def report_rows(anchor_list: list[Anchor], reps: list[dict[str, float]]) -> list[dict]:
    """One row per anchor: target, tolerance, simulated mean with its 95% CI, within or not."""
    rows = []
    for a in anchor_list:
        vals = [rep.get(a.measure, math.nan) for rep in reps]
        mean, lo, hi = summarise(vals)
        measured = math.isfinite(mean)
        rows.append(
            {
                "id": a.id,
                "fact": a.fact,
                "source": a.source,
                "where": a.where,
                "target": a.target,
                "target_text": a.target_text(),
                "lo": a.lo,
                "hi": a.hi,
                "tolerance": a.tolerance_text(),
                "basis": a.basis,
                "unit": a.unit,
                "simulated": mean,
                "ci_low": lo,
                "ci_high": hi,
                "replicates": vals,
                "within": bool(a.within(mean)) if measured else None,
                "status": ("within" if a.within(mean) else "OUTSIDE")
                if measured
                else "not measured (run too short)",
            }
        )
    return rows


def _value_text(row: dict, key: str) -> str:
    v = row[key]
    if v is None or not math.isfinite(v):
        return "—"
    if row["unit"] == "share":
        return f"{100 * v:.1f}%"
    return f"{v:.3g}" if row["unit"] != "difference" else f"{v:+.3g}"


def table_markdown(rows: list[dict]) -> str:
    """The calibration table as Markdown."""
    header = [
        "anchor",
        "source",
        "measured in",
        "target",
        "tolerance",
        "simulated (95% CI)",
        "status",
    ]
    cells = [
        [
            r["fact"],
            r["source"],
            r["where"],
            r["target_text"],
            r["tolerance"],
            f"{_value_text(r, 'simulated')} ({_value_text(r, 'ci_low')} – "
            f"{_value_text(r, 'ci_high')})",
            r["status"],
        ]
        for r in rows
    ]
    return markdown_table(header, cells)


def basis_markdown(rows: list[dict]) -> str:
    return markdown_table(["anchor", "why this tolerance"], [[r["id"], r["basis"]] for r in rows])


def not_checked_markdown() -> str:
    return markdown_table(["kind", "anchor", "source"], not_checked())


# ---------------------------------------------------------------------------------------------
# The calibration report


def calibrate(
    overrides: Sequence[str] = (),
    *,
    replicates: int = 4,
    seed: int = 1,
    n_jobs: int = -1,
) -> dict:
    """Run the calibration scenarios and evaluate every anchor.

    Parameters
    ----------
    overrides : list of str
        ``key=value`` parameter overrides applied to every calibration scenario.
    replicates, seed : int
        Replicate r runs with seed ``replicate_seeds(seed, replicates)[r]`` in every scenario
        (common random numbers).
    n_jobs : int
        Parallel runs (joblib; -1 all cores).

    Returns
    -------
    dict
        ``rows`` (see :func:`report_rows`), ``replicates`` (raw measurements), run settings.
    """
    t0 = time.perf_counter()
    base = scenario_params(overrides)
    seeds = replicate_seeds(seed, replicates)
    reps = run_probes(base, seeds, n_jobs=n_jobs)
    rows = report_rows(anchors(base["baseline"]), reps)
    return {
        "overrides": list(overrides),
        "seed": seed,
        "seeds": seeds,
        "population_size": base["baseline"].population.size,
        "steps": base["baseline"].steps,
        "rows": rows,
        "measurements": reps,
        "all_within": all(r["within"] for r in rows if r["within"] is not None),
        "outside": [r["id"] for r in rows if r["within"] is False],
        "seconds": round(time.perf_counter() - t0, 1),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_report(result: dict, out_dir: Path, *, title: str = "Calibration") -> Path:
    """``calibration.json`` and ``calibration.md`` in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(
        out / "calibration.json", (json.dumps(result, indent=1, default=_json) + "\n").encode()
    )
    md = [
        f"# {title}\n",
        f"{len(result['seeds'])} replicates (root seed {result.get('seed', '?')}, replicate "
        "seeds drawn from it as for every command), "
        f"N = {result['population_size']}, {result['steps']} days; overrides: "
        f"{' '.join(result['overrides']) or 'none'}.\n",
        table_markdown(result["rows"]),
        "\n## Why each tolerance\n",
        basis_markdown(result["rows"]),
        "\n## Anchors not checked\n",
        not_checked_markdown(),
    ]
    atomic_write_bytes(out / "calibration.md", "\n".join(md).encode())
    return out


def _json(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(type(x))


# ---------------------------------------------------------------------------------------------
# Fitting


@dataclass
class FreeParam:
    """A parameter ``fit=true`` may move, within ``[lo, hi]``, and the anchors it mainly informs."""

    name: str
    lo: float
    hi: float
    informs: str


FIT_PARAMS = [
    FreeParam("population.stigma_mean_schizophrenia", 0.30, 0.60, "self-stigma in schizophrenia"),
    FreeParam("population.stigma_mean_other", 0.30, 0.60, "self-stigma across SMI (the span)"),
    FreeParam("exchange.correction_reply", 0.0, 30.0, "same-day correction, misleading share"),
    FreeParam("activation.learning_gain", 0.0, 0.004, "PAM means and levels after a year"),
    FreeParam("entry.leave_rate", 0.001, 0.010, "retention at 6 and 9 months, share online"),
    FreeParam("entry.switch_share", 0.0, 0.9, "share online against retention (leavers who move)"),
]
FIT_SCENARIOS = ("baseline", "moderated_community")  # the paired contrasts are not fitted
STEP = 0.05  # finite-difference step in the unit cube: 5% of each parameter's fitting range


def fit_residuals(
    anchor_list: list[Anchor], reps: list[dict[str, float]]
) -> tuple[np.ndarray, list[str]]:
    """Residuals of the fitted anchors measured: (simulated mean - target) / anchor SE for a point
    target; for a span of studies (no point target, both bounds), 0 inside it and the distance to
    the nearer bound outside, in units of the span read as a 95% interval (half-width / 1.96)."""
    res, names = [], []
    for a in anchor_list:
        if not a.fit:
            continue
        span = a.target is None and a.lo is not None and a.hi is not None
        se = (a.hi - a.lo) / 2 / 1.96 if span else a.se()
        if se is None:
            continue
        mean, _, _ = summarise([rep.get(a.measure, math.nan) for rep in reps])
        if not math.isfinite(mean):
            continue
        if span:
            res.append((min(mean - a.lo, 0.0) + max(mean - a.hi, 0.0)) / se)
        else:
            res.append((mean - a.target) / se)
        names.append(a.id)
    assert_calibration_only(names)  # a held-out target never reaches the fit
    return np.array(res), names


def fit(
    overrides: Sequence[str] = (),
    *,
    replicates: int = 2,
    seed: int = 1,
    budget: int = 40,
    starts: int = 2,
    n_jobs: int = -1,
    free: Sequence[FreeParam] = FIT_PARAMS,
    notify: Callable[[str], None] = print,
) -> dict:
    """Fit ``free`` to the anchors with ``scipy.optimize.least_squares``.

    The search runs in the unit cube (each parameter scaled to its ``[lo, hi]``) with a 5%
    finite-difference step; every evaluation uses the same seeds, so the objective is a
    deterministic function of the parameters. ``budget`` caps the number of model evaluations
    (one evaluation = ``replicates`` runs of each fitted scenario), Jacobian evaluations included.
    ``least_squares`` is a local method: with ``starts`` > 1 it also starts from ``starts - 1``
    Latin-hypercube points of the box, sharing the budget, and the best point found is kept.

    Returns
    -------
    dict
        ``values`` (name → fitted value), ``sd`` (standard errors from ``(JᵀJ)⁻¹`` at the optimum,
        residuals in units of the anchors' standard errors), ``start``, residuals before and
        after, ``evaluations``, and the optimiser's message.
    """
    if starts < 1 or budget < len(free) + starts:
        raise ConfigError(
            f"fit: budget={budget} is too small for {starts} start(s) and {len(free)} free "
            f"parameters: give at least {len(free) + starts}"
        )
    base = scenario_params(overrides, FIT_SCENARIOS)
    anchor_list = anchors(base["baseline"])
    seeds = replicate_seeds(seed, replicates)
    lo = np.array([f.lo for f in free])
    hi = np.array([f.hi for f in free])
    start = np.array([float(get_param(base["baseline"], f.name)) for f in free])
    for f, x in zip(free, start):
        if not f.lo <= x <= f.hi:
            raise ConfigError(
                f"fit: {f.name}={x} starts outside its fitting range [{f.lo}, {f.hi}]"
            )
    u0 = (start - lo) / (hi - lo)
    cache: dict[tuple, tuple[np.ndarray, list[str]]] = {}
    log: list[dict] = []
    names_ref: list[str] = []

    class Budget(Exception):
        pass

    def params_at(u):
        x = lo + np.clip(u, 0, 1) * (hi - lo)
        return x, [f"{f.name}={v:.10g}" for f, v in zip(free, x)]

    def evaluate(u):
        key = tuple(np.round(u, 12))
        if key in cache:
            return cache[key]
        if len(cache) >= budget:
            raise Budget
        x, extra = params_at(u)
        scen = scenario_params([*overrides, *extra], FIT_SCENARIOS)
        reps = run_probes(scen, seeds, n_jobs=n_jobs)
        res, names = fit_residuals(anchor_list, reps)
        cache[key] = (res, names)
        cost = float(0.5 * np.sum(res**2))
        log.append({"values": dict(zip([f.name for f in free], map(float, x))), "cost": cost})
        notify(f"fit evaluation {len(cache)}/{budget}: cost {cost:.3f}  " +
               "  ".join(f"{f.name.split('.')[-1]}={v:.4g}" for f, v in zip(free, x)))  # fmt: skip
        return res, names

    def fun(u):
        res, names = evaluate(u)
        if not names_ref:
            names_ref.extend(names)
        if names != names_ref:  # an anchor became unmeasurable: keep the vector shape
            full = dict(zip(names, res))
            res = np.array([full.get(n, 0.0) for n in names_ref])
        return res

    def cost_of(u) -> float:
        return float(0.5 * np.sum(fun(u) ** 2))

    # Search budget: all but the evaluations a Jacobian at the best point needs, shared by the
    # starting points (least_squares is local: the cost surface has several basins).
    search_total = max(starts, budget - len(free))
    points = [u0]
    if starts > 1:
        from scipy.stats import qmc

        points += list(qmc.LatinHypercube(d=len(free), seed=seed).random(starts - 1))
    r0 = fun(u0)
    messages = []
    best_u, best_cost = u0, cost_of(u0)
    for j, u_start in enumerate(points):
        limit = min(search_total, round(search_total * (j + 1) / len(points)))

        def search(u, limit=limit):
            if len(cache) >= limit and tuple(np.round(u, 12)) not in cache:
                raise Budget
            return fun(u)

        try:
            result = optimize.least_squares(
                search, u_start, bounds=(0.0, 1.0), method="trf", diff_step=STEP,
                x_scale=1.0, max_nfev=budget,
            )  # fmt: skip
            messages.append(f"start {j + 1}: {result.message}")
        except Budget:
            messages.append(f"start {j + 1}: stopped at its share of the budget")
        # the best point evaluated so far, over every start
        for key, (res, names) in list(cache.items()):
            if names == names_ref:
                c = float(0.5 * np.sum(res**2))
                if c < best_cost:
                    best_u, best_cost = np.array(key), c
    message = "; ".join(messages)
    best_res = fun(best_u)
    try:  # forward differences at the best point (most are cached from the search)
        cols = []
        for j in range(len(free)):
            h = STEP if best_u[j] + STEP <= 1.0 else -STEP
            u = best_u.copy()
            u[j] += h
            cols.append((fun(u) - best_res) / h)
        jac = np.column_stack(cols)
    except Budget:
        jac = None
    x_best, _ = params_at(best_u)
    sd = _standard_errors(jac, hi - lo) if jac is not None else np.full(len(free), math.nan)
    best = {"res": best_res}
    out = {
        "free": [asdict(f) for f in free],
        "start": dict(zip([f.name for f in free], map(float, start))),
        "values": dict(zip([f.name for f in free], map(float, x_best))),
        "sd": dict(zip([f.name for f in free], map(float, sd))),
        "identified": {
            f.name: bool(math.isfinite(v) and v < f.hi - f.lo) for f, v in zip(free, sd)
        },
        "residual_names": names_ref,
        "residuals_start": [float(v) for v in r0],
        "residuals_fitted": [float(v) for v in best["res"]],
        "cost_start": float(0.5 * np.sum(r0**2)),
        "cost_fitted": float(0.5 * np.sum(np.asarray(best["res"]) ** 2)),
        "evaluations": len(cache),
        "budget": budget,
        "starts": starts,
        "message": message,
        "seeds": seeds,
        "overrides": list(overrides),
        "log": log,
        "method": "scipy.optimize.least_squares (trf, bounds, 2-point Jacobian, diff_step 0.05 in "
        f"the unit cube), {starts} start(s)",
    }
    return out


def _standard_errors(jac: np.ndarray, span: np.ndarray) -> np.ndarray:
    """SE of each parameter: √diag((JᵀJ)⁺) in the unit cube, scaled back by the parameter range.

    Residuals are in units of the anchors' standard errors, so this is the uncertainty the
    anchors leave on each parameter (simulation noise is held fixed by common random numbers).
    An SE larger than the fitting range means the anchors do not pin the parameter down.
    """
    cov = np.linalg.pinv(jac.T @ jac)
    return np.sqrt(np.clip(np.diag(cov), 0, None)) * span


def write_fit(fitted: dict, out_dir: Path, *, command: str = "") -> Path:
    """``fit.json`` and ``scenario/calibrated.yaml`` (a scenario file) in ``out_dir``."""
    out = Path(out_dir)
    (out / "scenario").mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(
        out / "fit.json", (json.dumps(fitted, indent=1, default=_json) + "\n").encode()
    )
    lines = [
        "# @package _global_",
        f"# Fitted by `{command or 'peerwell calibrate fit=true'}` on {datetime.now(UTC).date()}",
        f"# with {fitted['method']};",
        f"# {fitted['evaluations']} evaluations, cost {fitted['cost_start']:.3f} -> {fitted['cost_fitted']:.3f}.",
        "# Values ± standard error (from the Jacobian at the optimum, anchors' own uncertainty):",
    ]
    for name, v in fitted["values"].items():
        flag = "" if fitted["identified"].get(name, True) else "  (not pinned down by the anchors)"
        lines.append(f"#   {name} = {v:.6g} ± {fitted['sd'][name]:.2g}{flag}")
    lines += [
        "# Run it: peerwell run --config-dir " + str(out.resolve()) + " scenario=calibrated",
        "# Check it: peerwell calibrate config="
        + str((out / "scenario" / "calibrated.yaml").resolve()),
        "scenario:",
        "  name: calibrated",
        "  description: >-",
        "    The baseline with the parameters fitted to the model brief's anchors by peerwell",
        "    calibrate fit=true (see fit.json beside this folder).",
        "  events: []",
    ]
    groups: dict[str, dict[str, float]] = {}
    for name, v in fitted["values"].items():
        g, k = name.split(".", 1)
        groups.setdefault(g, {})[k] = v
    for g, kv in groups.items():
        lines.append(f"{g}:")
        for k, v in kv.items():
            lines.append(f"  {k}: {v:.8g}")
    atomic_write_bytes(out / "scenario" / "calibrated.yaml", ("\n".join(lines) + "\n").encode())
    return out / "scenario" / "calibrated.yaml"


def overrides_from_file(path: str | Path) -> list[str]:
    """``key=value`` overrides from a scenario file (every parameter it sets; events not allowed)."""
    from omegaconf import OmegaConf

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config={path}: no such file")
    from peerwell.scenarios.hydra_guard import check_yaml_file

    check_yaml_file(p)  # size, aliases, depth: before OmegaConf expands the file
    try:
        cfg = OmegaConf.to_container(OmegaConf.load(p))
    except Exception as exc:  # yaml errors have many types
        raise ConfigError(
            f"config={path}: not a YAML scenario file ({str(exc).splitlines()[0]})"
        ) from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"config={path}: expected a mapping of parameter groups")
    events = (cfg.get("scenario") or {}).get("events") or []
    if events:
        raise ConfigError(
            f"config={path}: timed events cannot be applied to the calibration scenarios"
        )
    out = []
    for group, values in cfg.items():
        if group == "scenario":
            continue
        if isinstance(values, dict):
            out += [f"{group}.{k}={v}" for k, v in values.items()]
        else:
            out.append(f"{group}={values}")
    return out
