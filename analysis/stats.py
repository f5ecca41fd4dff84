"""Outcome-at-horizon statistics for scenario comparisons: bootstrap CIs and paired differences.

Pure functions on result tables (the stacked trajectories of many runs); no simulation is run
here. Replicate r of every scenario shares its seed (common random numbers), so differences are
taken pairwise by seed: the paired difference isolates the scenario's effect from the noise the
two runs share.

Confidence intervals are percentile bootstraps over replicates (``scipy.stats.bootstrap``),
seeded with ``CI_SEED`` so the same runs always give the same table.

A difference is *marked* (``significant``, the ``*`` of the printed table and ``report.md``) by a
stated rule, not by its interval alone: a paired t-test of the differences, with p-values
adjusted by Holm's step-down method over every difference of the table (all outcomes × all
scenarios but the reference), and at least :data:`MIN_PAIRS` pairs. The rule exists because the
interval alone misleads at the replicate counts people try first: a percentile bootstrap of n
pairs excludes 0 whenever all n differences share a sign, which a null difference does with
probability 2^(1-n) (half the time at 2 pairs), and in simulation of null differences its 95%
interval excluded 0 in 46%, 24% and 17% of cases at 2, 3 and 4 pairs (still 9% at 10). And a
table of 15 outcomes × k scenarios holds many chances of a false mark: Holm keeps the chance of
any false mark in the table at 5%, and is never less powerful than Bonferroni.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .summary import MAIN  # noqa: F401  (the outcomes the figures and report lead with)

CI_LEVEL = 0.95
N_RESAMPLES = 9999
CI_METHOD = (
    "percentile"  # BCa is undefined when every replicate agrees (e.g. offline belonging = 0)
)
CI_SEED = 20160113

# The significance rule of the marks (see the module doc): a paired t-test at ALPHA, p-values
# adjusted by Holm's method over the table's differences, and no mark below MIN_PAIRS pairs. With
# fewer pairs the t-interval rests on a normality that so few pairs cannot show (and its
# t-quantile is 12.7 at 2 pairs, 4.3 at 3, 3.2 at 4), while the bootstrap intervals printed beside
# it exclude 0 for a null difference a quarter to half of the time.
ALPHA = 0.05
MIN_PAIRS = 5
TEST_METHOD = "paired t-test"
ADJUST_METHOD = "holm"


@dataclass(frozen=True)
class Outcome:
    """One outcome of the comparison tables.

    ``kind`` is ``benefit`` (an opportunity of the conceptual model), ``risk`` (one of its risks)
    or ``context``; ``better`` says which direction is good for people (None for context).
    ``unit`` is ``share`` (0-1, reported in percentage points), ``pam`` (PAM points) or
    ``score`` (a 0-1 score).
    """

    name: str
    label: str
    kind: str
    better: str | None
    unit: str


OUTCOMES: tuple[Outcome, ...] = (
    Outcome("activation_mean", "activation", "benefit", "higher", "pam"),
    Outcome("care_seeking_share", "seeking or in care", "benefit", "higher", "share"),
    Outcome("in_care_share", "in care", "benefit", "higher", "share"),
    Outcome("wellbeing_mental_mean", "mental wellbeing", "benefit", "higher", "score"),
    Outcome("wellbeing_physical_mean", "physical wellbeing", "benefit", "higher", "score"),
    Outcome("self_stigma_mean", "self-stigma", "benefit", "lower", "score"),
    Outcome("belonging_mean", "belonging", "benefit", "higher", "score"),
    Outcome("empowerment_mean", "empowerment and hope", "benefit", "higher", "score"),
    Outcome("recovery_mean", "recovery", "benefit", "higher", "score"),
    Outcome("employed_share", "employed or in education", "benefit", "higher", "share"),
    Outcome("misinformation_belief_mean", "misinformation belief", "risk", "lower", "share"),
    Outcome("uncertainty_mean", "uncertainty about own health", "risk", "lower", "score"),
    Outcome("hostile_daily_share", "hostile comment received (per day)", "risk", "lower", "share"),
    Outcome("privacy_harm_share", "harmed by a disclosure (ever)", "risk", "lower", "share"),
    Outcome("acute_care_rate", "acute care episodes", "benefit", "lower", "rate"),
    # More trust in online information is neither better nor worse: it weighs what misleads as
    # much as what teaches (ODD §7.7); disclosure likewise opens support and exposes to harm.
    Outcome("trust_mean", "trust in online health information", "context", None, "score"),
    Outcome("disclosed_share", "disclosed their diagnosis online", "context", None, "share"),
    Outcome("online_share", "online", "context", None, "share"),
    Outcome("enrolled_share", "enrolled in an online intervention", "context", None, "share"),
)
OUTCOME_BY_NAME = {o.name: o for o in OUTCOMES}


def unit_of(column: str) -> str:
    """The unit of an outcome column: its ``Outcome``'s, else ``share`` for a share
    (``disclosed_share``, a group's ``share``) and ``score`` for any other."""
    if column in OUTCOME_BY_NAME:
        return OUTCOME_BY_NAME[column].unit
    return "share" if column == "share" or column.endswith("_share") else "score"


# Person-level SD column of a mean outcome, for standardised effects; shares use sqrt(p(1-p)).
_SD_COLUMN = {
    "activation_mean": "activation_sd",
    "wellbeing_mental_mean": "wellbeing_mental_sd",
    "wellbeing_physical_mean": "wellbeing_physical_sd",
    "self_stigma_mean": "self_stigma_sd",
    "belonging_mean": "belonging_sd",
    "empowerment_mean": "empowerment_sd",
    "recovery_mean": "recovery_sd",
    "uncertainty_mean": "uncertainty_sd",
}
RUN_KEYS = ["scenario", "seed", "run_id"]


def horizon_table(trajectories: pd.DataFrame, at_step: int | None = None) -> pd.DataFrame:
    """One row per run: every outcome on day ``at_step`` (default: each run's last recorded day).

    ``hostile_daily_share`` (the share of people who received a hostile comment, averaged over
    days 1 to the horizon) is derived from ``flow_hostile`` when the table has a ``people``
    column (population size); otherwise it is left out.

    Parameters
    ----------
    trajectories : DataFrame
        Stacked trajectories with ``scenario``, ``seed``, ``run_id``, ``step`` and outcome columns
        (optionally ``replicate`` and ``people``).
    at_step : int, optional
        The day to read; every run must have recorded it.

    Returns
    -------
    DataFrame
        ``scenario``, ``seed``, ``run_id`` (and ``replicate``), ``step``, then every recorded
        numeric column (outcomes, their person-level SDs, flows) on that day.

    Raises
    ------
    ValueError
        A required column is missing, or a run did not record ``at_step``.
    """
    missing = [c for c in [*RUN_KEYS, "step"] if c not in trajectories.columns]
    if missing:
        raise ValueError(f"trajectories lack column(s) {missing}")
    keys = RUN_KEYS + (["replicate"] if "replicate" in trajectories.columns else [])
    df = trajectories.sort_values([*keys, "step"])
    if at_step is None:
        rows = df.groupby(keys, sort=False).tail(1)
    else:
        rows = df[df["step"] == at_step]
        n_runs = df.groupby(keys, sort=False).ngroups
        if len(rows) != n_runs:
            raise ValueError(f"{n_runs - len(rows)} run(s) did not record day {at_step}")
    skip = {*keys, "step", "people"}
    columns = [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])]
    out = rows[[*keys, "step", *columns]].reset_index(drop=True)
    if "people" in df.columns and "flow_hostile" in df.columns:
        horizon = out.set_index(keys)["step"]
        d = df.join(horizon.rename("horizon"), on=keys)
        d = d[(d["step"] > 0) & (d["step"] <= d["horizon"])]
        share = (d["flow_hostile"] / d["people"]).groupby([d[k] for k in keys], sort=False).mean()
        out["hostile_daily_share"] = out.join(share.rename("h"), on=keys)["h"].fillna(0.0).values
    return out


def bootstrap_ci(
    values, *, level: float = CI_LEVEL, n_resamples: int = N_RESAMPLES, seed: int = CI_SEED
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values``.

    Parameters
    ----------
    values : array-like
        One value per replicate (or per pair, for a paired difference).
    level : float
        Confidence level.
    n_resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling, so the same values always give the same interval.

    Returns
    -------
    (float, float)
        Lower and upper bound; ``(nan, nan)`` with fewer than two values; ``(v, v)`` when every
        value equals ``v``.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan"), float("nan")
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    res = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=level,
        method=CI_METHOD,
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def person_sd(horizon: pd.DataFrame, outcome: str) -> float:
    """Mean over runs of the person-level SD of ``outcome`` (for standardised effects)."""
    col = _SD_COLUMN.get(outcome)
    if col is not None and col in horizon.columns:
        return float(horizon[col].mean())
    o = OUTCOME_BY_NAME.get(outcome)
    if o is not None and o.unit == "share":
        p = horizon[outcome].to_numpy(dtype=np.float64)
        return float(np.sqrt(np.clip(p * (1.0 - p), 0.0, None)).mean())
    return float("nan")


# The verdict of a difference that is not marked because there are too few pairs to tell.
TOO_FEW = "too few replicates"


def _verdict(outcome: str, diff: float, marked: bool, enough: bool) -> str:
    """What a difference means for people, by the rule of the marks (``significant``): 'better'
    or 'worse' ('up'/'down' for context outcomes) when marked, else 'no clear change' — or
    ``TOO_FEW`` below ``MIN_PAIRS`` pairs, where no difference is marked."""
    if not enough:
        return TOO_FEW
    if not marked:
        return "no clear change"
    better = OUTCOME_BY_NAME[outcome].better if outcome in OUTCOME_BY_NAME else None
    if better is None:
        return "up" if diff > 0 else "down"
    return "better" if (diff > 0) == (better == "higher") else "worse"


def _paired_by_seed(horizon: pd.DataFrame, scenarios: list[str], reference: str):
    """For each of ``scenarios`` in order: (scenario, its runs by seed, the reference's runs by
    seed, the seeds both ran). A paired difference is taken over those seeds (common random
    numbers: the same seed in two scenarios meets the same draws)."""
    by = {s: g.set_index("seed").sort_index() for s, g in horizon.groupby("scenario", sort=False)}
    ref = by[reference]
    for s in scenarios:
        g = by[s]
        yield s, g, ref, g.index.intersection(ref.index)


def summary_table(
    horizon: pd.DataFrame,
    scenarios: list[str] | None = None,
    outcomes: list[str] | None = None,
    reference: str | None = None,
) -> pd.DataFrame:
    """Per scenario and outcome: mean, SD, bootstrap CI, and the paired difference from ``reference``.

    Parameters
    ----------
    horizon : DataFrame
        From :func:`horizon_table`.
    scenarios : list of str, optional
        Scenarios in report order (default: order of appearance).
    outcomes : list of str, optional
        Outcome columns (default: every known outcome present).
    reference : str, optional
        The scenario differences are taken from (default: the first).

    Returns
    -------
    DataFrame
        Columns ``scenario, outcome, label, kind, better, step, n, mean, sd, ci_low, ci_high,
        reference, n_pairs, diff, diff_sd, diff_ci_low, diff_ci_high, diff_excludes_zero,
        verdict, person_sd, std_diff, std_diff_ci_low, std_diff_ci_high, p_value, p_holm,
        significant``. The reference's own difference columns are empty. ``std_diff`` is the
        difference over the pooled person-level SD of the two scenarios (a standardised mean
        difference, as Cohen's d). ``p_value`` is the paired t-test's, ``p_holm`` the same
        adjusted by Holm's method over every difference in the table, and ``significant`` the
        mark: ``p_holm < ALPHA`` with at least ``MIN_PAIRS`` pairs (see the module doc).
        ``verdict`` follows the mark: 'better'/'worse' (or 'up'/'down' for an outcome with
        no better side) when marked, 'no clear change' when not, and 'too few replicates'
        below ``MIN_PAIRS`` pairs. ``diff_excludes_zero`` reads the 95% interval alone.

    Raises
    ------
    ValueError
        A named scenario or outcome is not in the table.
    """
    scenarios = list(scenarios) if scenarios else list(dict.fromkeys(horizon["scenario"]))
    outcomes = list(outcomes) if outcomes else [o.name for o in OUTCOMES if o.name in horizon]
    reference = reference or scenarios[0]
    for s in [*scenarios, reference]:
        if s not in set(horizon["scenario"]):
            raise ValueError(f"scenario {s!r} has no runs in the table")
    for o in outcomes:
        if o not in horizon.columns:
            raise ValueError(f"outcome {o!r} is not a column of the table")
    rows = []
    for s, g, ref, common in _paired_by_seed(horizon, scenarios, reference):
        for o in outcomes:
            x = g[o].to_numpy(dtype=np.float64)
            lo, hi = bootstrap_ci(x)
            meta = OUTCOME_BY_NAME.get(o)
            row = {
                "scenario": s,
                "outcome": o,
                "label": meta.label if meta else o,
                "kind": meta.kind if meta else "",
                "better": (meta.better or "") if meta else "",
                "step": int(g["step"].max()),
                "n": int(x.size),
                "mean": float(x.mean()),
                "sd": float(x.std(ddof=1)) if x.size > 1 else float("nan"),
                "ci_low": lo,
                "ci_high": hi,
                "reference": reference,
                "person_sd": person_sd(g, o),
            }
            if s != reference:
                d = (g.loc[common, o] - ref.loc[common, o]).to_numpy(dtype=np.float64)
                dlo, dhi = bootstrap_ci(d)
                diff = float(d.mean()) if d.size else float("nan")
                pooled = float(np.sqrt((row["person_sd"] ** 2 + person_sd(ref, o) ** 2) / 2.0))
                scale = pooled if pooled > 0 else float("nan")
                row |= {
                    "n_pairs": int(d.size),
                    "diff": diff,
                    "diff_sd": float(d.std(ddof=1)) if d.size > 1 else float("nan"),
                    "diff_ci_low": dlo,
                    "diff_ci_high": dhi,
                    "diff_excludes_zero": bool(np.isfinite(dlo) and (dlo > 0 or dhi < 0)),
                    "std_diff": diff / scale,
                    "std_diff_ci_low": dlo / scale,
                    "std_diff_ci_high": dhi / scale,
                    "p_value": paired_p_value(d),
                }
            rows.append(row)
    columns = [
        "scenario", "outcome", "label", "kind", "better", "step", "n", "mean", "sd", "ci_low",
        "ci_high", "reference", "n_pairs", "diff", "diff_sd", "diff_ci_low", "diff_ci_high",
        "diff_excludes_zero", "verdict", "person_sd", "std_diff", "std_diff_ci_low",
        "std_diff_ci_high", "p_value", "p_holm", "significant",
    ]  # fmt: skip
    out = pd.DataFrame(rows).reindex(columns=columns)
    out["n_pairs"] = out["n_pairs"].astype("Int64")
    out["diff_excludes_zero"] = out["diff_excludes_zero"].astype("boolean")
    others = out["scenario"] != reference
    out.loc[others, "p_holm"] = holm(out.loc[others, "p_value"].to_numpy(dtype=np.float64))
    enough = out["n_pairs"].fillna(0).astype(int) >= MIN_PAIRS
    out["significant"] = pd.array(
        [bool(e and p < ALPHA) if o else pd.NA for o, e, p in zip(others, enough, out["p_holm"])],
        dtype="boolean",
    )
    # One rule for every place a difference is judged (the table's *, the report's words, the
    # dashboard's column, the figures' colours): the verdict follows the mark.
    out["verdict"] = [
        _verdict(oc, d, bool(m), bool(e)) if o else pd.NA
        for o, oc, d, m, e in zip(others, out["outcome"], out["diff"], out["significant"], enough)
    ]
    return out


def paired_p_value(d) -> float:
    """Two-sided p-value of a paired t-test (mean difference 0) on the differences ``d``.

    NaN with fewer than two differences. When every difference is the same the t statistic is
    undefined: a difference of exactly 0 in every pair is no evidence of a change (p = 1), one
    same nonzero difference in every pair is a change that no noise hides (p = 0).
    """
    x = np.asarray(d, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan")
    if np.all(x == x[0]):
        return 1.0 if x[0] == 0 else 0.0
    return float(stats.ttest_1samp(x, 0.0).pvalue)


def holm(p) -> np.ndarray:
    """Holm's step-down adjustment of the p-values ``p`` (NaN left out of the family, kept NaN).

    The k-th smallest of m p-values is multiplied by m - k + 1, and the adjusted values are made
    non-decreasing in that order and capped at 1; rejecting where the adjusted p is below alpha
    keeps the chance of any false rejection in the family at alpha (Holm 1979).
    """
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


def marks_family(summary: pd.DataFrame) -> int:
    """How many differences the Holm adjustment of ``summary`` ran over (its ``m``)."""
    others = summary["scenario"] != summary["reference"]
    return int(np.isfinite(summary.loc[others, "p_value"].to_numpy(dtype=np.float64)).sum())


def too_few_pairs(summary: pd.DataFrame) -> int | None:
    """The smallest number of pairs in ``summary`` if it is below ``MIN_PAIRS``, else None."""
    n = summary.loc[summary["scenario"] != summary["reference"], "n_pairs"].dropna()
    if n.empty:
        return None
    low = int(n.min())
    return low if low < MIN_PAIRS else None


def trajectory_bands(
    trajectories: pd.DataFrame,
    outcomes: list[str],
    *,
    level: float = CI_LEVEL,
    n_resamples: int = 2000,
    seed: int = CI_SEED,
) -> pd.DataFrame:
    """Mean and percentile-bootstrap band of each outcome per scenario and day, over replicates.

    One set of resampled replicate weights is used for every day of a scenario, so the bootstrap
    is a single matrix product (weights × replicates-by-days) rather than a loop over days.

    Parameters
    ----------
    trajectories : DataFrame
        Stacked trajectories with ``scenario``, ``seed``, ``step`` and the outcome columns.
    outcomes : list of str
        Outcome columns.
    level, n_resamples, seed
        Confidence level, bootstrap resamples, and the resampling seed.

    Returns
    -------
    DataFrame
        Long table: ``scenario, outcome, step, mean, lo, hi``.
    """
    alpha = (1.0 - level) / 2.0
    frames = []
    for scenario, g in trajectories.groupby("scenario", sort=False):
        g = g.sort_values(["seed", "step"])
        steps = np.sort(g["step"].unique())
        n_rep = g["seed"].nunique()
        if len(g) != n_rep * len(steps):
            raise ValueError(
                f"scenario {scenario!r}: runs recorded different days; cannot band them"
            )
        # replicates × days × outcomes, in one reshape (rows are sorted by seed, then day)
        cube = (
            g[list(outcomes)].to_numpy(dtype=np.float64).reshape(n_rep, len(steps), len(outcomes))
        )
        mean = cube.mean(axis=0)
        if n_rep > 1:
            rng = np.random.default_rng(seed)
            weights = rng.multinomial(n_rep, np.full(n_rep, 1.0 / n_rep), size=n_resamples) / n_rep
            boot = np.einsum("br,rto->bto", weights, cube)
            lo, hi = np.quantile(boot, [alpha, 1.0 - alpha], axis=0)
        else:
            lo = hi = mean
        for k, o in enumerate(outcomes):
            frames.append(
                pd.DataFrame(
                    {
                        "scenario": scenario,
                        "outcome": o,
                        "step": steps,
                        "mean": mean[:, k],
                        "lo": lo[:, k],
                        "hi": hi[:, k],
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def bootstrap_cis(
    values, *, level: float = CI_LEVEL, n_resamples: int = N_RESAMPLES, seed: int = CI_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`bootstrap_ci` of each column of ``values``, with one resampling for all of them.

    The columns are resampled together (the same rows drawn for each, as :func:`bootstrap_ci`
    draws them for one column with the same seed), so each interval is that column's
    :func:`bootstrap_ci` to rounding, at a fraction of the time of one call per column.

    Parameters
    ----------
    values : array-like
        Rows: replicates (or pairs); columns: measures.
    level, n_resamples, seed
        As :func:`bootstrap_ci`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Lower and upper bounds, one per column.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    lo, hi = np.full(x.shape[1], np.nan), np.full(x.shape[1], np.nan)
    finite = np.isfinite(x).all(axis=0)
    if x.shape[0] >= 2:
        constant = finite & (x == x[:1]).all(axis=0)
        lo[constant] = hi[constant] = x[0, constant]
        spread = finite & ~constant
        if spread.any():
            res = stats.bootstrap(
                (x[:, spread],),
                np.mean,
                axis=0,
                n_resamples=n_resamples,
                confidence_level=level,
                method=CI_METHOD,
                rng=np.random.default_rng(seed),
            )
            lo[spread], hi[spread] = res.confidence_interval.low, res.confidence_interval.high
    for k in np.flatnonzero(~finite):  # the finite values of this column only
        lo[k], hi[k] = bootstrap_ci(x[:, k], level=level, n_resamples=n_resamples, seed=seed)
    return lo, hi


# The columns of groups.csv (``groups_summary``).
GROUPS_CSV_COLUMNS = ["scenario", "group", "measure", "mean", "ci_low", "ci_high", "replicates",
                      "reference", "n_pairs", "diff", "diff_ci_low", "diff_ci_high"]  # fmt: skip


def group_measures(groups: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The measures of a table of groups (``recorder.GROUP_COLUMNS``): all of them, ``share``
    first, and the day's levels among them (``share``, each ``<outcome>_mean``,
    ``acute_care_rate``), whose paired differences are a scenario's effect on a group (the
    changes from day 0 are not: they differ by where the people started)."""
    measures = ["share", *(c for c in groups.columns if c.endswith(("_mean", "_change")))]
    measures += [c for c in groups.columns if c == "acute_care_rate"]
    return measures, [m for m in measures if not m.endswith("_change")]


def groups_summary(groups: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """Each group's measures per scenario over the replicates, and their paired differences
    from the reference scenario (``groups.csv``).

    Parameters
    ----------
    groups : DataFrame
        One row per run and group: ``scenario``, ``replicate``, ``group``, ``people``, ``share``,
        ``<outcome>_mean`` / ``<outcome>_change`` and ``acute_care_rate``
        (``recorder.GROUP_COLUMNS``).
    reference : str, optional
        The scenario differences are taken from (default: the first in the table).

    Returns
    -------
    DataFrame
        One row per scenario, group and measure (``share``, each ``<outcome>_mean`` and
        ``<outcome>_change``, ``acute_care_rate``): ``scenario, group, measure, mean, ci_low,
        ci_high, replicates`` (replicates with anyone in the group; the bootstrap CI of the mean
        over them, and for ``share`` over every replicate), then ``reference, n_pairs, diff,
        diff_ci_low, diff_ci_high``: for the day's levels (``group_measures``) of the scenarios
        other than the reference, the mean difference from the reference paired by replicate
        (the same seed) over the replicates with anyone in the group in both (every replicate
        for ``share``), and its bootstrap CI. Sorted by scenario, then group in the order of
        the table.
    """
    if groups.empty:
        return pd.DataFrame(columns=GROUPS_CSV_COLUMNS)
    reference = reference or groups["scenario"].iloc[0]
    measures, levels = group_measures(groups)
    runs = {
        key: g.set_index("replicate").sort_index()
        for key, g in groups.groupby(["scenario", "group"], sort=False)
    }
    rows = []
    for (scenario, group), g in runs.items():
        present = g[g["people"] > 0]
        means = present[measures].mean().to_numpy(dtype=np.float64, copy=True)
        lo, hi = bootstrap_cis(present[measures])
        # share: over every replicate (a replicate with nobody in the group counts as 0)
        means[0] = g["share"].mean()
        lo[0], hi[0] = bootstrap_ci(g["share"])
        paired: dict[str, tuple] = {}
        ref = runs.get((reference, group))
        if scenario != reference and ref is not None:
            both = g.index.intersection(ref.index)
            d = g.loc[both, levels] - ref.loc[both, levels]
            anyone = (g.loc[both, "people"] > 0) & (ref.loc[both, "people"] > 0)
            d.loc[~anyone, levels[1:]] = np.nan  # a mean needs people in both runs
            dlo, dhi = bootstrap_cis(d)  # each column over its pairs with values
            for k, m in enumerate(levels):
                paired[m] = (int(d[m].notna().sum()), d[m].mean(), dlo[k], dhi[k])
        for k, m in enumerate(measures):
            n_pairs, diff, diff_lo, diff_hi = paired.get(m, (pd.NA, np.nan, np.nan, np.nan))
            rows.append([scenario, group, m, means[k], lo[k], hi[k], len(present), reference,
                         n_pairs, diff, diff_lo, diff_hi])  # fmt: skip
    out = pd.DataFrame(rows, columns=GROUPS_CSV_COLUMNS)
    out["n_pairs"] = out["n_pairs"].astype("Int64")
    order = {g: k for k, g in enumerate(dict.fromkeys(groups["group"]))}
    return out.sort_values(["scenario", "group"], key=lambda s: s.map(order) if s.name == "group"
                           else s, kind="stable").reset_index(drop=True)  # fmt: skip


# --- Parameter uncertainty (``peerwell compare posterior=...``) ------------------------------
# Replicate r of a comparison with a posterior is (draw d, seed s): every scenario runs draw d's
# parameters with replicate r's seed, so a paired difference carries both the parameters' and
# the runs' own uncertainty. The columns summary.csv gains from :func:`uncertainty_table`.
UNCERTAINTY_COLUMNS = ["ui_low", "ui_high", "diff_ui_low", "diff_ui_high", "param_var_share"]
SOBOL_COLUMNS = ["scenario", "outcome", "parameter", "S1", "S1_conf"]
SOBOL_MIN_DRAWS = 20


def uncertainty_interval(values, level: float = CI_LEVEL) -> tuple[float, float]:
    """The central ``level`` interval of ``values`` themselves (not of their mean).

    The 2.5% and 97.5% quantiles (at 95%) of the per-replicate values over every draw and seed:
    the predictive spread of one outcome or contrast when the parameters are uncertain, which
    the CI of the mean (:func:`bootstrap_ci`) is not. NaN for no finite value.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(x, [tail, 1.0 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True)
class VarianceSplit:
    """A one-way random-effects ANOVA's variance components (see :func:`variance_split`)."""

    within: float  # stochastic variance of one run about its draw's mean, sigma^2_w
    between_means: float  # variance of the draws' means, sigma^2_b (sample variance)
    param: float  # variance due to the parameters, max(0, sigma^2_b - sigma^2_w / n)
    share: float  # param / (param + within); NaN below 2 draws or 2 runs per draw


def variance_split(values, groups) -> VarianceSplit:
    """Split the variance of ``values`` into the parameters' share and the runs' own noise.

    The one-way random-effects ANOVA estimator (method of moments; e.g. Searle, Casella &
    McCulloch, *Variance Components*, 1992, ch. 3): with k groups (parameter draws) of n values
    each (seeds per draw), the within-group mean square MSW estimates the stochastic variance
    sigma^2_w, and the between-group mean square MSB = n * Var(group means) estimates
    n * sigma^2_param + sigma^2_w, so

        sigma^2_param = max(0, Var(group means) - sigma^2_w / n),
        share = sigma^2_param / (sigma^2_param + sigma^2_w).

    With unequal group sizes n is Searle's n0 = (N - sum n_i^2 / N) / (k - 1) and Var(group
    means) is MSB / n0. NaN components (and share) when there are fewer than 2 groups or fewer
    than 2 values in some group; share is 0 when there is no variance at all.

    Parameters
    ----------
    values : array-like
        One value per run (e.g. a paired difference of one replicate); non-finite ones dropped.
    groups : array-like
        The group (draw) of each value.
    """
    x = np.asarray(values, dtype=np.float64)
    g = np.asarray(groups)
    keep = np.isfinite(x)
    x, g = x[keep], g[keep]
    nan = VarianceSplit(float("nan"), float("nan"), float("nan"), float("nan"))
    labels, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
    k, n_total = labels.size, x.size
    if k < 2 or counts.min() < 2:
        return nan
    means = np.bincount(inverse, weights=x) / counts
    grand = x.mean()
    msw = float(((x - means[inverse]) ** 2).sum() / (n_total - k))
    msb = float((counts * (means - grand) ** 2).sum() / (k - 1))
    n0 = (n_total - (counts**2).sum() / n_total) / (k - 1)
    between = msb / n0
    param = max(0.0, between - msw / n0)
    total = param + msw
    share = param / total if total > 0 else 0.0
    return VarianceSplit(float(msw), float(between), float(param), float(share))


def uncertainty_table(
    horizon: pd.DataFrame,
    draw_of: dict[int, int],
    scenarios: list[str],
    reference: str,
    outcomes: list[str],
    *,
    level: float = CI_LEVEL,
) -> pd.DataFrame:
    """Per scenario and outcome, the uncertainty interval and the parameters' variance share.

    Parameters
    ----------
    horizon : DataFrame
        From :func:`horizon_table`, one row per run, with ``scenario`` and ``seed``.
    draw_of : dict
        Seed to the parameter draw its replicate ran (replicate r = draw d, seed s).
    scenarios, reference, outcomes
        As :func:`summary_table`.

    Returns
    -------
    DataFrame
        ``scenario, outcome`` and :data:`UNCERTAINTY_COLUMNS`: ``ui_low, ui_high`` the
        ``level`` interval of the scenario's level over every replicate
        (:func:`uncertainty_interval`); for the scenarios other than the reference,
        ``diff_ui_low, diff_ui_high`` the same of the paired differences (by seed) and
        ``param_var_share`` the share of their variance due to the parameters
        (:func:`variance_split` over the draws).
    """
    rows = []
    for s, g, ref, common in _paired_by_seed(horizon, scenarios, reference):
        draws = np.array([draw_of.get(int(seed), -1) for seed in common])
        for o in outcomes:
            lo, hi = uncertainty_interval(g[o], level)
            row = {"scenario": s, "outcome": o, "ui_low": lo, "ui_high": hi}
            if s != reference:
                d = (g.loc[common, o] - ref.loc[common, o]).to_numpy(dtype=np.float64)
                dlo, dhi = uncertainty_interval(d, level)
                row |= {
                    "diff_ui_low": dlo,
                    "diff_ui_high": dhi,
                    "param_var_share": variance_split(d, draws).share,
                }
            rows.append(row)
    return pd.DataFrame(rows).reindex(columns=["scenario", "outcome", *UNCERTAINTY_COLUMNS])


def draw_mean_differences(
    horizon: pd.DataFrame,
    draw_of: dict[int, int],
    scenarios: list[str],
    reference: str,
    outcomes: list[str],
) -> pd.DataFrame:
    """The mean paired difference of every draw: one row per (scenario != reference, draw),
    a column per outcome (the output whose sensitivity to the parameters :func:`draw_sobol`
    estimates)."""
    parts = []
    for s, g, ref, common in _paired_by_seed(horizon, scenarios, reference):
        if s == reference:
            continue
        d = g.loc[common, outcomes] - ref.loc[common, outcomes]
        d["draw"] = [draw_of.get(int(seed), -1) for seed in common]
        m = d.groupby("draw", sort=True)[outcomes].mean().reset_index()
        m.insert(0, "scenario", s)
        parts.append(m)
    if not parts:
        return pd.DataFrame(columns=["scenario", "draw", *outcomes])
    return pd.concat(parts, ignore_index=True)


def draw_sobol(
    inputs: pd.DataFrame, output, *, seed: int = CI_SEED, num_resamples: int = 100
) -> pd.DataFrame:
    """First-order Sobol' indices of ``output`` over the given (not designed) draws ``inputs``.

    SALib's given-data estimators: the delta moment-independent method's ``S1`` (Plischke, Borgonovo
    & Smith 2013, ``SALib.analyze.delta``), and RBD-FAST's (``SALib.analyze.rbd_fast``, Plischke
    2010) where delta fails (too few points). A parameter that does not vary over the draws, an
    output that does not vary, or an estimator that fails gives NaN, never an error.

    Parameters
    ----------
    inputs : DataFrame
        One row per draw, a column per parameter.
    output : array-like
        One value per draw.

    Returns
    -------
    DataFrame
        ``parameter, S1, S1_conf`` (one row per column of ``inputs``).
    """
    import contextlib
    import io
    import warnings

    names = list(inputs.columns)
    x = inputs.to_numpy(dtype=np.float64)
    y = np.asarray(output, dtype=np.float64)
    s1 = np.full(len(names), np.nan)
    conf = np.full(len(names), np.nan)
    result = pd.DataFrame({"parameter": names, "S1": s1, "S1_conf": conf})
    if x.shape[0] < 2 or not np.isfinite(y).all() or np.ptp(y) == 0:
        return result
    moving = [k for k in range(len(names)) if np.ptp(x[:, k]) > 0]
    if not moving:
        return result
    sub = x[:, moving]
    problem = {
        "num_vars": len(moving),
        "names": [names[k] for k in moving],
        "bounds": [[float(sub[:, j].min()), float(sub[:, j].max())] for j in range(len(moving))],
    }
    got = None
    quiet = io.StringIO()  # SALib prints its binning notices, and warns them
    formatwarning = warnings.formatwarning  # which SALib's delta replaces for good
    with (
        warnings.catch_warnings(record=True),
        contextlib.redirect_stdout(quiet),
        contextlib.redirect_stderr(quiet),
    ):
        warnings.simplefilter("ignore")
        try:
            from SALib.analyze import delta

            r = delta.analyze(problem, sub, y, num_resamples=num_resamples, seed=seed)
            got = (np.asarray(r["S1"], float), np.asarray(r["S1_conf"], float))
        except Exception:
            got = None
        if got is None or not np.isfinite(got[0]).all():
            try:
                from SALib.analyze import rbd_fast

                r = rbd_fast.analyze(problem, sub, y, num_resamples=num_resamples, seed=seed)
                got = (np.asarray(r["S1"], float), np.asarray(r["S1_conf"], float))
            except Exception:
                got = None
    warnings.formatwarning = formatwarning
    if got is not None:
        result.loc[moving, "S1"] = got[0]
        result.loc[moving, "S1_conf"] = got[1]
    return result
