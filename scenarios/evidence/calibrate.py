"""Calibration: the baseline against the empirical anchors of the model brief (`peerwell calibrate`).

Every anchor the model can express is an :class:`Anchor`: the fact, its source, what is measured
in which scenario and on which day, the target, and the tolerance with the reason for it. Most
tolerances are the anchor's own sampling uncertainty (the 95% interval of the study's estimate);
where studies disagree, the span of their estimates; where the anchor gives only a direction, the
sign. A few are judgement and say so.

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

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from peerwell.analysis.classic import markdown_table
from peerwell.scenarios.catalogue import load_scenario
from peerwell.simulation.errors import ConfigError
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import DIAGNOSES, ModelParams, get_param
from peerwell.simulation.recorder import PAM_CUTS, STIGMA_MODERATE_HIGH

SCENARIOS = ("baseline", "offline_only", "moderated_community")
COHORT = (30, 91)  # joiners on days 30-90 (the moderated community opens on day 30)
DAYS_6M, DAYS_9M = 183, 274  # 182.6 and 273.9 days, rounded up

# ---------------------------------------------------------------------------------------------
# Interval helpers (the anchors' sampling uncertainty)


def wilson(p: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson 95% interval of a proportion p observed in n."""
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return centre - half, centre + half


def mean_ci(mean: float, sd: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% interval of a study mean (normal)."""
    half = z * sd / math.sqrt(n)
    return mean - half, mean + half


def ratio_ci(a: int, n1: int, b: int, n2: int, z: float = 1.959964) -> tuple[float, float, float]:
    """Ratio of two proportions a/n1 ÷ b/n2 with its log-normal 95% interval."""
    rr = (a / n1) / (b / n2)
    se = math.sqrt(1 / a - 1 / n1 + 1 / b - 1 / n2)
    return rr, rr * math.exp(-z * se), rr * math.exp(z * se)


# Forma et al. (2021) PAM-MH by diagnosis: mean, SD, n.
PAM_MH = {
    "schizophrenia": (57.4, 10.4, 43),
    "bipolar": (66.6, 17.5, 59),
    "depression": (55.4, 14.6, 34),
}


def pam_level_intervals(mix: Sequence[float], draws: int = 4000, seed: int = 20210301) -> dict:
    """PAM level shares implied by the PAM-MH means and SDs, with 95% parametric-bootstrap bounds.

    Scores are normal by diagnosis (the model's own assumption), mixed by the model's diagnosis
    mix and cut at the PAM cut-points. The bootstrap draws each study mean from N(m, SD²/n) and
    each SD from SD·√(χ²_{n-1}/(n-1)); the seed is fixed, so the bounds are reproducible.
    """
    m = np.array([PAM_MH[d][0] for d in DIAGNOSES])
    s = np.array([PAM_MH[d][1] for d in DIAGNOSES])
    n = np.array([PAM_MH[d][2] for d in DIAGNOSES])
    w = np.asarray(mix, dtype=float)
    cuts = np.array(PAM_CUTS)

    def shares(mm, ss):
        cdf = stats.norm.cdf((cuts[None, :] - mm[:, None]) / ss[:, None])
        cdf = np.column_stack([np.zeros(3), cdf, np.ones(3)])
        return (w[:, None] * np.diff(cdf, axis=1)).sum(axis=0)

    rng = np.random.default_rng(seed)
    boot = np.array(
        [shares(rng.normal(m, s / np.sqrt(n)), s * np.sqrt(rng.chisquare(n - 1) / (n - 1)))
         for _ in range(draws)]
    )  # fmt: skip
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    point = shares(m, s)
    return {f"L{k + 1}": (float(point[k]), float(lo[k]), float(hi[k])) for k in range(4)}


# ---------------------------------------------------------------------------------------------
# Anchors


@dataclass
class Anchor:
    """One empirical fact the model can express, and how it is checked.

    ``measure`` names a measurement of :func:`probe` (``scenario.name``) or a paired difference
    (``diff.name`` = baseline - offline_only, same seeds). Within tolerance means
    ``lo <= simulated mean <= hi`` (``lo < mean`` when ``strict``); a missing bound is open.
    """

    id: str
    fact: str
    source: str
    measure: str
    where: str
    target: float | None
    lo: float | None
    hi: float | None
    basis: str
    unit: str = "share"  # share | points | ratio | difference
    strict: bool = False
    fit: bool = True  # used as a target by fit=true (two-sided anchors with a point target)
    label: str = ""  # how the target reads when it is not a single number

    def within(self, value: float) -> bool:
        if value is None or not math.isfinite(value):
            return False
        if self.lo is not None and (value <= self.lo if self.strict else value < self.lo):
            return False
        return not (self.hi is not None and value > self.hi)

    def tolerance_text(self) -> str:
        f = _pct if self.unit == "share" else (lambda x: f"{x:.3g}")
        if self.lo is not None and self.hi is not None:
            return f"[{f(self.lo)}, {f(self.hi)}]"
        if self.lo is not None:
            return f"{'>' if self.strict else '≥'} {f(self.lo)}"
        return f"≤ {f(self.hi)}"

    def target_text(self) -> str:
        if self.label:
            return self.label
        if self.target is None:
            return "direction"
        return _pct(self.target) if self.unit == "share" else f"{self.target:.3g}"

    def se(self) -> float | None:
        """The anchor's standard error for fitting: the 95% half-width / 1.96."""
        if self.target is None or self.lo is None or self.hi is None:
            return None
        return (self.hi - self.lo) / (2 * 1.959964)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def anchors(params: ModelParams | None = None) -> list[Anchor]:
    """The anchors of ``model-brief.md`` the model can express, for the diagnosis mix of ``params``."""
    p = (params or ModelParams()).population
    mix = (p.share_schizophrenia, p.share_bipolar, p.share_depression)
    out: list[Anchor] = []
    year = "baseline, last day"
    # P1: share online. Pooled over the three surveys (n = 70 + 403 + 195).
    n_ = (70, 403, 195)
    pooled = (0.71 * 70 + 0.679 * 403 + 0.72 * 195) / sum(n_)
    lo, hi = wilson(pooled, sum(n_))
    out.append(Anchor(
        "online_share", "people with SMI who use social media: 71% (n=70), 67.9% (n=403), 72% (n=195)",
        "Naslund 2016; Brunette 2019; Aschbrenner 2018", "baseline.online_share", year,
        pooled, lo, hi, "sampling: Wilson 95% interval of the pooled share (n = 668)",
    ))  # fmt: skip
    # P3: participation inequality.
    out.append(Anchor(
        "ever_posted", "< 25% ever post", "van Mierlo 2014", "baseline.ever_posted_share", year,
        None, None, 0.25, "bound stated by the source (n = 63,990: sampling error negligible)", fit=False,
        label="< 25%",
    ))  # fmt: skip
    judgement = (
        "judgement: ±8 points (van Mierlo's n = 63,990 makes sampling error negligible; the four "
        "networks differ, and superusers are 1% of N, so a few dozen people carry the share)"
    )
    for role, share in (("superuser", 0.747), ("contributor", 0.240)):
        out.append(Anchor(
            f"content_{role}", f"{role}s produce {100 * share:.1f}% of content", "van Mierlo 2014",
            f"baseline.content_share_{role}", year, share, share - 0.08, share + 0.08, judgement,
        ))  # fmt: skip
    out.append(Anchor(
        "content_lurker", "lurkers produce 1.3% of content", "van Mierlo 2014",
        "baseline.content_share_lurker", year, 0.013, 0.0, 0.05,
        "judgement: at most 5% (lurkers post almost never)", fit=False,
    ))  # fmt: skip
    # P5: PAM-MH means by diagnosis.
    for dx in DIAGNOSES:
        m, sd, n = PAM_MH[dx]
        lo, hi = mean_ci(m, sd, n)
        out.append(Anchor(
            f"pam_mean_{dx}", f"PAM-MH mean, {dx}: {m} ± {sd} (n={n})", "Forma 2021 (PAM-MH)",
            f"baseline.activation_mean_{dx}", year, m, lo, hi,
            f"sampling: 95% interval of the study mean, 1.96·{sd}/√{n}", unit="points",
        ))  # fmt: skip
    # P4/P5: level distribution implied by the PAM-MH means and SDs.
    for level, (point, lo, hi) in pam_level_intervals(mix).items():
        out.append(Anchor(
            f"pam_level_{level}", f"PAM level {level[1]} share implied by the PAM-MH means and SDs",
            "Forma 2021; Hibbard cut-points", f"baseline.pam_{level}_share", year, point, lo, hi,
            "sampling, derived: 95% parametric-bootstrap interval of the study means and SDs "
            "(normal by diagnosis, the model's diagnosis mix)",
        ))  # fmt: skip
    out.append(Anchor(
        "pam_below_us", "people with SMI less activated than US adults (level 4: 41.4%)",
        "Hibbard 2007 (a contrast)", "baseline.pam_L4_share", year, None, None, 0.414,
        "direction: below the US adult share", fit=False,
        label="below 41.4%",
    ))  # fmt: skip
    # P6: higher activation, lower unmet need.
    out.append(Anchor(
        "unmet_need_by_level", "higher activation goes with much lower unmet need for care",
        "Hibbard 2007", "baseline.unmet_need_min_drop", year, None, 0.0, None,
        "direction: the share neither in care nor seeking it falls at every PAM level step "
        "(the smallest of the three drops is positive)", unit="difference", strict=True, fit=False,
        label="falls with level",
    ))  # fmt: skip
    # P7: self-stigma.
    lo_d, _ = wilson(0.313, 25_458)
    lo_b, hi_b = wilson(0.417, 1229)
    out.append(Anchor(
        "stigma_population", "moderate/high self-stigma: 31.3% average across SMI; 41.7% in schizophrenia",
        "Dubreucq 2021; Brohan 2010", "baseline.stigma_moderate_high_share", year, None, lo_d, hi_b,
        "span of the two studies' estimates with their Wilson 95% intervals", fit=False,
        label="31.3% – 41.7%",
    ))  # fmt: skip
    out.append(Anchor(
        "stigma_schizophrenia", "moderate/high self-stigma in schizophrenia: 41.7% (n=1,229)",
        "Brohan 2010", "baseline.stigma_moderate_high_schizophrenia", year, 0.417, lo_b, hi_b,
        "sampling: Wilson 95% interval (n = 1,229)",
    ))  # fmt: skip
    # P8: hostility towards psychosis.
    rr, lo, hi = ratio_ci(231, 636, 840, 7419)
    out.append(Anchor(
        "hostility_ratio", "pejorative content: psychosis 36.2% (231/636) vs other diseases 11.3% (840/7419)",
        "Alvarez-Mon 2019", "baseline.hostility_ratio", "baseline, whole run", rr, lo, hi,
        "sampling: log-normal 95% interval of the ratio of proportions; measured as hostile comments "
        "per online person-day, schizophrenia vs other diagnoses", unit="ratio",
    ))  # fmt: skip
    # P9: misinformation and correction.
    lo_e, _ = wilson(10 / 4600, 4600)
    out.append(Anchor(
        "misleading_share", "10 of 4,600 posts false; 24.4% inappropriate advice in another forum",
        "Esquivel 2006; peer-advice quality studies", "baseline.misleading_share",
        "baseline, whole run", None, lo_e, 0.244,
        "span of the two studies: misleading share of the health posts members meet", fit=False,
        label="0.22% – 24.4%",
    ))  # fmt: skip
    lo, hi = wilson(0.7, 10)
    out.append(Anchor(
        "same_day_correction", "7 of the 10 false posts corrected by participants within hours",
        "Esquivel 2006", "baseline.same_day_correction", "baseline, whole run", 0.7, lo, hi,
        "sampling: Wilson 95% interval of 7/10; measured as the share of misleading posts whose "
        "author is corrected the same day (one step)",
    ))  # fmt: skip
    # P10: moderated online social therapy retention.
    for months, share, key in ((6, 0.555, "retention_6m"), (9, 0.470, "retention_9m")):
        lo, hi = wilson(share, 86)
        out.append(Anchor(
            f"retention_{months}m", f"moderated online social therapy: {100 * share:.1f}% logged on ≥ {months} months (n=86)",
            "HORYZONS RCT (Alvarez-Jimenez 2021)", f"moderated_community.{key}",
            "moderated_community, joiners on days 30-90", share, lo, hi,
            "sampling: Wilson 95% interval (n = 86); measured as the share of the cohort still in "
            "the community (never left) that long after joining",
        ))  # fmt: skip
    # P11, P12: paired contrasts with offline_only (common random numbers).
    for measure, fact, source in (
        (
            "empowerment_mean",
            "peer support: some benefit on empowerment and hope",
            "Lloyd-Evans 2014",
        ),
        ("recovery_mean", "peer support: some benefit on recovery", "Lloyd-Evans 2014"),
        ("belonging_mean", "YouTube comments: less isolation", "Naslund 2014"),
        ("care_seeking_share", "YouTube comments: medication and care-seeking", "Naslund 2014"),
    ):
        out.append(Anchor(
            f"gain_{measure}", fact, source, f"diff.{measure}", "baseline − offline_only, last day",
            None, 0.0, None, "direction: a year online raises it (paired, same seeds)",
            unit="difference", strict=True, fit=False, label="higher online",
        ))  # fmt: skip
    return out


# Anchors of the brief the model takes as inputs (set, not checked) or cannot express.
NOT_CHECKED = [
    (
        "inputs",
        "share online at day 0 (population.initial_online_share = 0.70)",
        "Naslund 2016; Brunette 2019; Aschbrenner 2018",
    ),
    (
        "inputs",
        "2.6 ± 2.5 h/day; 30% discussed symptoms (population.social_media_use_*, exchange.health_post_share = 0.3)",
        "Birnbaum 2015",
    ),
    ("inputs", "PAM-MH means and SDs at day 0 (population.pam_*)", "Forma 2021"),
    (
        "inputs",
        "hostility ratio 3.2 (exchange.psychosis_hostility; the emergent ratio is checked above)",
        "Alvarez-Mon 2019",
    ),
    (
        "inputs",
        "intervention dropout (intervention.dropout_rate = −ln 0.555 / 182.6 days)",
        "HORYZONS RCT",
    ),
    (
        "not expressible",
        "97.5% of young people on social media (the model has no age)",
        "Birnbaum 2015",
    ),
    (
        "not expressible",
        "peer support: little effect on hospitalisation or symptoms (no such state)",
        "Lloyd-Evans 2014",
    ),
    (
        "not expressible",
        "US adults' PAM level shares 6.8/14.6/37.2/41.4% (a contrast population; direction checked above)",
        "Hibbard 2007",
    ),
]


# ---------------------------------------------------------------------------------------------
# Measuring one run


def probe(params: ModelParams, threads: int | None = None) -> dict[str, float]:
    """Run ``params`` to its last day and return the measurements the anchors read.

    Day-by-day the state arrays give what the recorder does not keep: the cohort of joiners on
    days 30-90 (retention at 6 and 9 months), misleading posts and whether their author was
    corrected that day, hostile comments by diagnosis, and health posts met.
    """
    if threads is not None:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
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
            join_day[new] = day
        gone = (f["left"] == 1) & (join_day >= 0) & (leave_day < 0)
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


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    if replicates < 1:
        raise ConfigError(f"replicates={replicates}: need at least 1")
    return [int(seed) + r for r in range(int(replicates))]


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
    if n_jobs == 1 or len(jobs) == 1:
        results = [probe(p) for _, _, p in jobs]
    else:
        from joblib import Parallel, delayed, effective_n_jobs

        workers = min(effective_n_jobs(n_jobs), len(jobs))
        threads = max(1, (os.cpu_count() or 1) // workers)
        results = Parallel(n_jobs=workers, backend="loky")(
            delayed(probe)(p, threads) for _, _, p in jobs
        )
    reps: list[dict[str, float]] = [{} for _ in seeds]
    for (name, r, _), res in zip(jobs, results):
        reps[r].update({f"{name}.{k}": v for k, v in res.items()})
    for rep in reps:
        if "baseline.empowerment_mean" in rep and "offline_only.empowerment_mean" in rep:
            for k in ("empowerment_mean", "recovery_mean", "belonging_mean", "care_seeking_share"):
                rep[f"diff.{k}"] = rep[f"baseline.{k}"] - rep[f"offline_only.{k}"]
    return reps


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
        return _pct(v)
    return f"{v:.3g}" if row["unit"] != "difference" else f"{v:+.3g}"


def table_markdown(rows: list[dict]) -> str:
    """The calibration table as Markdown."""
    out = [
        {
            "anchor": r["fact"],
            "source": r["source"],
            "measured in": r["where"],
            "target": r["target_text"],
            "tolerance": r["tolerance"],
            "simulated (95% CI)": f"{_value_text(r, 'simulated')} ({_value_text(r, 'ci_low')} – {_value_text(r, 'ci_high')})",
            "status": r["status"],
        }
        for r in rows
    ]
    return markdown_table(out)


def basis_markdown(rows: list[dict]) -> str:
    return markdown_table([{"anchor": r["id"], "why this tolerance": r["basis"]} for r in rows])


def not_checked_markdown() -> str:
    return markdown_table([{"kind": k, "anchor": a, "source": s} for k, a, s in NOT_CHECKED])


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
        Replicate r runs with seed ``seed + r`` in every scenario (common random numbers).
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
    (out / "calibration.json").write_text(json.dumps(result, indent=1, default=_json) + "\n")
    md = [
        f"# {title}\n",
        f"{len(result['seeds'])} replicates (seeds {result['seeds'][0]}…{result['seeds'][-1]}), "
        f"N = {result['population_size']}, {result['steps']} days; overrides: "
        f"{' '.join(result['overrides']) or 'none'}.\n",
        table_markdown(result["rows"]),
        "\n## Why each tolerance\n",
        basis_markdown(result["rows"]),
        "\n## Anchors not checked\n",
        not_checked_markdown(),
    ]
    (out / "calibration.md").write_text("\n".join(md))
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
    FreeParam("exchange.correction_reply", 0.0, 30.0, "same-day correction, misleading share"),
    FreeParam("activation.learning_gain", 0.0, 0.004, "PAM means and levels after a year"),
    FreeParam("entry.leave_rate", 0.001, 0.010, "retention at 6 and 9 months, share online"),
]
FIT_SCENARIOS = ("baseline", "moderated_community")  # the paired contrasts are not fitted
STEP = 0.05  # finite-difference step in the unit cube: 5% of each parameter's fitting range


def fit_residuals(
    anchor_list: list[Anchor], reps: list[dict[str, float]]
) -> tuple[np.ndarray, list[str]]:
    """Residuals (simulated mean - target) / anchor SE of the two-sided point anchors measured."""
    res, names = [], []
    for a in anchor_list:
        se = a.se()
        if not a.fit or se is None:
            continue
        mean, _, _ = summarise([rep.get(a.measure, math.nan) for rep in reps])
        if math.isfinite(mean):
            res.append((mean - a.target) / se)
            names.append(a.id)
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
    (out / "fit.json").write_text(json.dumps(fitted, indent=1, default=_json) + "\n")
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
    (out / "scenario" / "calibrated.yaml").write_text("\n".join(lines) + "\n")
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
