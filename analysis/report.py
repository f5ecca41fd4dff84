"""``report.md`` of a scenario comparison, written from the summary table's numbers.

One paragraph per scenario says what rose, what fell and what did not change detectably, and
what that means for the benefits and risks of the conceptual model. "Detectably" is the marks'
rule of ``stats`` (a paired t-test, Holm-adjusted over every difference of the table, with at
least ``stats.MIN_PAIRS`` pairs), stated in the report; with fewer pairs the report says that
nothing is tested and gives the directions as point estimates only. No simulation is run here.
"""

from __future__ import annotations

import math

import pandas as pd

from .stats import (
    ALPHA,
    CI_METHOD,
    CI_SEED,
    MAIN,
    MIN_PAIRS,
    N_RESAMPLES,
    OUTCOME_BY_NAME,
    SOBOL_MIN_DRAWS,
    marks_family,
    too_few_pairs,
    unit_of,
)
from .tables import markdown_table


def marks_rule(summary: pd.DataFrame) -> str:
    """The rule of the ``*`` marks in one sentence, with this table's family size."""
    m = marks_family(summary)
    return (
        f"* marks a paired difference whose paired t-test p-value, adjusted by Holm's method over "
        f"the {m} differences of summary.csv (every outcome × every scenario against the "
        f"reference), is below {ALPHA:g}; it needs at least {MIN_PAIRS} pairs"
    )


def power_warning(summary: pd.DataFrame) -> str | None:
    """Why no difference is marked when there are too few pairs to test one, or None."""
    n = too_few_pairs(summary)
    if n is None:
        return None
    return (
        f"Only {n} paired replicate{'s' if n != 1 else ''}: too few to test a difference, so none "
        f"is marked (at least {MIN_PAIRS} are needed). With so few pairs a 95% bootstrap interval "
        f"of a difference that is really zero excludes zero a quarter to half of the time, and a "
        f"t-test rests on a normality that so few pairs cannot show. The differences are point "
        f"estimates: rerun with replicates=30 (the finished runs are reused)."
    )


def fmt_value(outcome: str, value: float) -> str:
    """A level in its unit: shares in percent, activation in PAM points, scores to 3 decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    unit = unit_of(outcome)
    if unit == "share":
        return f"{100 * value:.1f}%"
    if unit == "pam":
        return f"{value:.1f}"
    return f"{value:.3f}"


def fmt_diff(outcome: str, value: float, unit: bool = True) -> str:
    """A difference, signed, to three significant figures (shares in percentage points)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    kind = unit_of(outcome)
    if kind == "share":
        return f"{100 * value:+.3g}" + (" pp" if unit else "")
    if kind == "pam":
        return f"{value:+.3g}" + (" PAM points" if unit else "")
    return f"{value:+.3g}"


def _effect(row) -> str:
    o = row["outcome"]
    return (
        f"{row['label']} {fmt_diff(o, row['diff'])} (95% CI "
        f"{fmt_diff(o, row['diff_ci_low'], False)} to {fmt_diff(o, row['diff_ci_high'], False)})"
    )


def reference_paragraph(summary: pd.DataFrame, reference: str, outcomes=MAIN) -> str:
    """The reference scenario's levels at the horizon, with their CIs."""
    s = summary[(summary["scenario"] == reference) & summary["outcome"].isin(outcomes)]
    if s.empty:
        return f"**{reference}** is the reference."
    n, day = int(s["n"].iloc[0]), int(s["step"].iloc[0])
    parts = [
        f"{r['label']} {fmt_value(r['outcome'], r['mean'])} "
        f"({fmt_value(r['outcome'], r['ci_low'])} to {fmt_value(r['outcome'], r['ci_high'])})"
        for _, r in s.iterrows()
    ]
    return (
        f"**{reference}** is the reference every difference below is taken from. On day {day} "
        f"(mean of {n} replicates, 95% CI): " + "; ".join(parts) + "."
    )


def _favour(row) -> bool | None:
    """Whether a difference is in people's favour (None for context outcomes)."""
    better = row["better"] if isinstance(row["better"], str) and row["better"] else None
    if better is None:
        return None
    return (row["diff"] > 0) == (better == "higher")


def scenario_paragraph(summary: pd.DataFrame, scenario: str) -> str:
    """What rose, what fell and what did not change for ``scenario``, against the reference.

    With at least ``MIN_PAIRS`` pairs, "rose" and "fell" are the marked differences (the rule of
    :func:`marks_rule`); with fewer, every nonzero difference is listed by its sign, said to be a
    point estimate, and nothing is called a change.
    """
    s = summary[summary["scenario"] == scenario]
    reference, day, n = s["reference"].iloc[0], int(s["step"].iloc[0]), s["n_pairs"].iloc[0]
    text = [f"**{scenario}** against {reference}, paired over {n} replicates on day {day}."]
    if pd.isna(n) or int(n) < MIN_PAIRS:
        rose = [_effect(r) for _, r in s[s["diff"] > 0].iterrows()]
        fell = [_effect(r) for _, r in s[s["diff"] < 0].iterrows()]
        text.append(
            f"With {n} pairs (fewer than {MIN_PAIRS}) no difference is tested: the directions "
            "below are point estimates, not findings."
        )
        text.append(f"Rose: {'; '.join(rose)}." if rose else "Nothing rose.")
        text.append(f"Fell: {'; '.join(fell)}." if fell else "Nothing fell.")
        return " ".join(text)
    clear = s[s["significant"].fillna(False).astype(bool)]
    rose = [_effect(r) for _, r in clear[clear["diff"] > 0].iterrows()]
    fell = [_effect(r) for _, r in clear[clear["diff"] < 0].iterrows()]
    unclear = list(s[~s["outcome"].isin(clear["outcome"])]["label"])
    text.append(f"Rose: {'; '.join(rose)}." if rose else "Nothing rose detectably.")
    text.append(f"Fell: {'; '.join(fell)}." if fell else "Nothing fell detectably.")
    if unclear:
        text.append(
            "No clear change (not significant after Holm's correction over the table): "
            f"{', '.join(unclear)}."
        )
    tally = []
    for kind, noun in (("benefit", "benefit outcomes"), ("risk", "risks")):
        k = clear[clear["kind"] == kind]
        favour = [_favour(r) for _, r in k.iterrows()]
        good, bad = sum(f is True for f in favour), sum(f is False for f in favour)
        total = int((s["kind"] == kind).sum())
        tally.append(f"{good} of {total} {noun} moved in people's favour and {bad} against them")
    text.append("On balance: " + "; ".join(tally) + ".")
    return " ".join(text)


def levels_table(summary: pd.DataFrame, scenarios: list[str]) -> str:
    """Markdown: outcome rows, scenario columns, ``mean [CI]`` cells."""
    rows = []
    for outcome in dict.fromkeys(summary["outcome"]):
        s = summary[summary["outcome"] == outcome].set_index("scenario")
        cells = [
            f"{fmt_value(outcome, s.at[sc, 'mean'])} [{fmt_value(outcome, s.at[sc, 'ci_low'])}, "
            f"{fmt_value(outcome, s.at[sc, 'ci_high'])}]"
            for sc in scenarios
        ]
        rows.append([s["label"].iloc[0], *cells])
    return markdown_table(["outcome", *scenarios], rows)


def differences_table(summary: pd.DataFrame, scenarios: list[str]) -> str:
    """Markdown: paired differences from the reference, ``diff [CI]``; * the marks' rule."""
    others = [s for s in scenarios if s != summary["reference"].iloc[0]]
    rows = []
    for outcome in dict.fromkeys(summary["outcome"]):
        s = summary[summary["outcome"] == outcome].set_index("scenario")
        cells = []
        for sc in others:
            r = s.loc[sc]
            star = " *" if bool(pd.notna(r["significant"]) and r["significant"]) else ""
            cells.append(
                f"{fmt_diff(outcome, r['diff'])} [{fmt_diff(outcome, r['diff_ci_low'], False)}, "
                f"{fmt_diff(outcome, r['diff_ci_high'], False)}]{star}"
            )
        rows.append([s["label"].iloc[0], *cells])
    return markdown_table(["outcome", *others], rows)


# "Where people went": the movers, stayers and people offline, and the outcomes of the paper's
# question about a new space (groups.csv holds every group and outcome).
WHERE_GROUPS = ("movers", "stayers", "offline")
WHERE_OUTCOMES = ("activation", "self_stigma", "belonging", "wellbeing_mental", "care_seeking")


def groups_section(groups: pd.DataFrame) -> list[str]:
    """Where people went (``groups.csv``): for each scenario in which a community opened during
    the run, the share of movers, stayers and people offline and each group's mean change from
    day 0 (mean [95% CI] over the replicates). Empty when no scenario opened one."""
    if groups is None or groups.empty:
        return []
    groups = groups[groups["group"].isin(WHERE_GROUPS)]
    share = groups[(groups["measure"] == "share") & (groups["group"] == "movers")]
    opened = list(share.loc[share["mean"] > 0, "scenario"])
    if not opened:
        return []
    changes = [f"{o}_change" for o in WHERE_OUTCOMES if f"{o}_change" in set(groups["measure"])]
    out = [
        "## Where people went",
        "",
        "In " + ", ".join(f"**{s}**" for s in opened) + " a community opened during the run. "
        "Movers are the people who went to a community that opened after day 0, stayers those "
        "online at some time who never did, offline those never online (`groups.csv`). Each cell "
        "is the group's mean change from day 0 per person (mean [95% CI] over the replicates). "
        "The groups choose themselves, so these are descriptions of who went where, not effects: "
        "the paired differences above are the scenarios' effects.",
        "",
    ]
    header = ["scenario", "group", "share of people", *[m.removesuffix("_change") for m in changes]]
    rows = []
    for scenario in opened:
        for group in groups.loc[groups["scenario"] == scenario, "group"].unique():
            g = groups[(groups["scenario"] == scenario) & (groups["group"] == group)]
            cell = {r["measure"]: r for _, r in g.iterrows()}
            sh = cell["share"]
            row = [scenario, group, f"{sh['mean']:.1%} [{sh['ci_low']:.1%}, {sh['ci_high']:.1%}]"]
            for m in changes:
                r = cell[m]
                row.append(
                    "—" if not math.isfinite(r["mean"])
                    else f"{r['mean']:+.3g} [{r['ci_low']:+.3g}, {r['ci_high']:+.3g}]"
                )  # fmt: skip
            rows.append(row)
    out += [markdown_table(header, rows), ""]
    return out


def _group_outcomes() -> list[tuple[str, str, str]]:
    """Each outcome of the subgroup tables: (its measure in ``groups.csv``, its label, the
    trajectories column whose unit it has)."""
    from peerwell.simulation.recorder import GROUP_OUTCOMES

    rows = []
    for name, o in GROUP_OUTCOMES.items():
        label = OUTCOME_BY_NAME[o.column].label if o.column in OUTCOME_BY_NAME else None
        rows.append((f"{name}_mean", label or name.replace("_", " "), o.column))
    rows.append(("acute_care_rate", "acute care episodes per person-year", "acute_care_rate"))
    return rows


def subgroups_section(
    groups: pd.DataFrame, subgroups: dict[str, str], scenarios: list[str], horizon: int
) -> list[str]:
    """Each chosen subgroup's outcomes on the horizon (``groups.csv``): the reference's mean
    [95% CI] and each other scenario's paired difference from it [95% CI]. Empty when none is
    chosen.

    Parameters
    ----------
    groups : DataFrame
        From ``stats.groups_summary``.
    subgroups : dict
        The chosen groups (names of ``recorder.GROUPS``) to what each is.
    scenarios : list of str
        In the order given; the first is the reference.
    horizon : int
        The day the table is of.
    """
    if not subgroups or groups is None or groups.empty:
        return []
    reference, others = scenarios[0], scenarios[1:]
    out = [
        "## Subgroups",
        "",
        f"Each table is one subgroup on day {horizon} (`groups.csv` holds every group): the "
        f"mean of {reference} over the replicates [95% CI] and each scenario's paired difference "
        f"from it [95% CI], paired by replicate as above, over the replicates with anyone in the "
        "group in both runs. A group fixed at day 0 (a diagnosis, vulnerable or not, online or "
        "offline on day 0) holds the same people in both runs of a pair when the scenarios share "
        "the population's settings, so its difference is the scenario's effect on those people; "
        "movers, stayers and people offline choose themselves, so theirs describe who went where. "
        "The intervals are not adjusted for the many subgroups and outcomes, and no difference "
        "here is marked.",
        "",
    ]
    by = groups.set_index(["scenario", "group", "measure"])
    for group, meaning in subgroups.items():
        out += [f"### {group}", "", f"{meaning[:1].upper()}{meaning[1:]}.", ""]
        nobody = by.loc[(reference, group, "share"), "replicates"] == 0
        outcomes = [] if nobody else _group_outcomes()
        rows = []
        for measure, label, column in [("share", "share of people", "share"), *outcomes]:
            r = by.loc[(reference, group, measure)]
            cells = [
                f"{fmt_value(column, r['mean'])} [{fmt_value(column, r['ci_low'])}, "
                f"{fmt_value(column, r['ci_high'])}]"
            ]
            for sc in others:
                d = by.loc[(sc, group, measure)]
                cells.append(
                    f"{fmt_diff(column, d['diff'])} [{fmt_diff(column, d['diff_ci_low'], False)}, "
                    f"{fmt_diff(column, d['diff_ci_high'], False)}]"
                )
            rows.append([label, *cells])
        out += [markdown_table(["outcome", *scenarios], rows), ""]
        if nobody:
            out += [
                f"Nobody is in this group in {reference}: its outcomes have nothing to be paired "
                "with (`groups.csv` has each scenario's own levels).",
                "",
            ]
    return out


def _top_parameters(sobol: pd.DataFrame | None, scenario: str, outcome: str, k: int = 3) -> str:
    if sobol is None:
        return ""
    g = sobol[(sobol["scenario"] == scenario) & (sobol["outcome"] == outcome)].dropna(subset="S1")
    g = g.sort_values("S1", ascending=False, kind="stable").head(k)
    return ", ".join(f"{r.parameter} ({r.S1:.2f})" for r in g.itertuples()) or "n/a"


def uncertainty_section(summary: pd.DataFrame, scenarios: list[str], info: dict) -> list[str]:
    """report.md's "Parameter uncertainty": each contrast of the main outcomes with its
    stochastic CI, its uncertainty interval over draws and seeds, the parameters' share of its
    variance and (with enough draws) the parameters it is most sensitive to."""
    draws, per = int(info["draws"]), int(info["seeds_per_draw"])
    sobol = info.get("sobol")
    out = [
        "## Parameter uncertainty",
        "",
        f"Parameters drawn from the posterior `{info['posterior']}` (sha256 "
        f"{str(info.get('sha256', ''))[:12]}…; {', '.join(info.get('parameters', []))}): "
        f"{draws} draws by weight × {per} seeds per draw = {draws * per} replicates per "
        "scenario. Replicate r of every scenario runs the same draw and the same seed (common "
        "parameters and common random numbers). The CI is the stochastic-only interval of the "
        "mean difference (as above); the uncertainty interval (UI) is the 2.5%–97.5% range of "
        "the per-replicate differences over all draws and seeds, carrying parameter and "
        "stochastic uncertainty. The parameter share is the share of a difference's variance "
        "due to the parameters (one-way random-effects ANOVA over the draws: "
        "max(0, var of draw means − within-draw var / seeds per draw) over itself plus the "
        "within-draw var); `summary.csv` holds `diff_ui_low`, `diff_ui_high`, "
        "`param_var_share` (and `ui_low`, `ui_high` of each level).",
        "",
    ]
    if draws < 2 or per < 2:
        out += [
            f"The parameter share needs at least 2 draws and 2 seeds per draw ({draws} and "
            f"{per} given): it is not estimated.",
            "",
        ]
    if sobol is None:
        out += [
            f"Top parameters: none, too few draws for Sobol indices ({draws} given, "
            f"{SOBOL_MIN_DRAWS} needed).",
            "",
        ]
    else:
        out += [
            "Top parameters: first-order Sobol' indices S1 of each difference's per-draw mean "
            "over the draws (SALib's given-data estimator; `sobol.csv` has every parameter and "
            "outcome with its S1_conf).",
            "",
        ]
    reference = scenarios[0]
    head = ["scenario", "outcome", "diff", "95% CI (stochastic)", "95% UI (with parameters)",
            "parameter share"]  # fmt: skip
    if sobol is not None:
        head.append("top parameters (S1)")
    rows = []
    for sc in scenarios[1:]:
        if sc == reference:
            continue
        for outcome in [o for o in MAIN if o in set(summary["outcome"])]:
            r = summary[(summary["scenario"] == sc) & (summary["outcome"] == outcome)].iloc[0]
            share = r.get("param_var_share", float("nan"))
            row = [
                sc,
                r["label"],
                fmt_diff(outcome, r["diff"]),
                f"[{fmt_diff(outcome, r['diff_ci_low'], False)}, "
                f"{fmt_diff(outcome, r['diff_ci_high'], False)}]",
                f"[{fmt_diff(outcome, r['diff_ui_low'], False)}, "
                f"{fmt_diff(outcome, r['diff_ui_high'], False)}]",
                "n/a" if pd.isna(share) else f"{100 * float(share):.0f}%",
            ]
            if sobol is not None:
                row.append(_top_parameters(sobol, sc, outcome))
            rows.append(row)
    if rows:
        out += [markdown_table(head, rows), ""]
    return out


def render_report(
    summary: pd.DataFrame,
    scenarios: list[str],
    descriptions: dict[str, str],
    settings: dict,
    figures: dict[str, str],
    groups: pd.DataFrame | None = None,
    subgroups: dict[str, str] | None = None,
    uncertainty: dict | None = None,
) -> str:
    """The whole ``report.md``.

    Parameters
    ----------
    summary : DataFrame
        From ``stats.summary_table``.
    scenarios : list of str
        In the order given; the first is the reference.
    descriptions : dict
        Scenario to its description.
    settings : dict
        ``replicates``, ``root_seed``, ``horizon``, ``people``, ``overrides`` (list of str),
        ``command``.
    figures : dict
        Caption to relative path of the figure (PNG).
    groups : DataFrame, optional
        From ``stats.groups_summary``: the section on movers, stayers and people offline, and
        the subgroups'.
    subgroups : dict, optional
        Groups of ``recorder.GROUPS`` to report (name to what it is), one table each.
    uncertainty : dict, optional
        With a posterior (``compare posterior=``): ``posterior`` (its path), ``sha256``,
        ``draws``, ``seeds_per_draw``, ``parameters``, ``sobol`` (``sobol.csv``'s table or
        None): the section "Parameter uncertainty" (:func:`uncertainty_section`).
    """
    reference = scenarios[0]
    out = [f"# peerwell comparison: {', '.join(scenarios)}", ""]
    out.append(
        f"{settings['replicates']} replicates per scenario, {settings['people']} people, "
        f"{settings['horizon']} days; model overrides: "
        f"{' '.join(settings['overrides']) or 'none'}. Replicate r of every scenario uses the "
        f"same seed (common random numbers; seeds from `SeedSequence({settings['root_seed']})`, "
        f"listed in `comparison.json`), so each difference is paired by replicate."
    )
    if settings.get("command"):
        out += ["", f"Command: `{settings['command']}`"]
    # First thing read after the settings: below MIN_PAIRS nothing in the report is a finding.
    warning = power_warning(summary) if len(scenarios) > 1 else None
    if warning:
        out += ["", f"> **Too few replicates to test differences.** {warning}"]
    out += ["", "## Scenarios", ""]
    out += [f"- **{s}** — {descriptions.get(s, '')}" for s in scenarios]
    out += ["", "## Findings", "", reference_paragraph(summary, reference), ""]
    for s in scenarios[1:]:
        out += [scenario_paragraph(summary, s), ""]
    out += [f"## Outcomes on day {settings['horizon']} (mean [95% CI])", ""]
    out += [levels_table(summary, scenarios)]
    if len(scenarios) > 1:
        how = "no marks: too few pairs" if warning else "* see below"
        out += [f"## Paired differences from {reference} (mean [95% CI]; {how})", ""]
        out += [differences_table(summary, scenarios)]
        out += [(warning or marks_rule(summary) + ".").replace("*", "\\*", 1), ""]
    if uncertainty is not None:
        out += uncertainty_section(summary, scenarios, uncertainty)
    out += groups_section(groups)
    out += subgroups_section(groups, subgroups or {}, scenarios, settings["horizon"])
    out += ["## Figures", ""]
    out += [f"![{caption}]({path})\n" for caption, path in figures.items()]
    out += [
        "## Method",
        "",
        f"Confidence intervals are {CI_METHOD} bootstraps of the mean over replicates "
        f"({N_RESAMPLES} resamples, seed {CI_SEED}); differences are paired by replicate seed. "
        "The standardised effects of the benefits-vs-risks figure divide a paired difference by "
        "the pooled person-level SD of the two scenarios (sqrt(p(1-p)) for shares). "
        "`summary.csv` holds every number of this report; `runs/` holds every run.",
        "",
        'A difference is called a change (the \\* of the differences table, "rose" and '
        '"fell" above) by a paired t-test of the per-replicate differences, with the p-values '
        f"adjusted by Holm's step-down method over every difference in `summary.csv` (columns "
        f"`p_value`, `p_holm`, `significant`), at {ALPHA:g}: Holm keeps the chance of any false "
        f"mark in the whole table at {ALPHA:g}, where marking each 95% interval that excludes zero "
        "would give one table of 15 outcomes × k scenarios many chances of one. Below "
        f"{MIN_PAIRS} pairs nothing is marked: the percentile bootstrap interval of n pairs "
        "excludes zero whenever all n differences share a sign, which a zero difference does "
        "half the time at 2 pairs and a quarter at 3. The column `diff_excludes_zero` still "
        "records the 95% interval alone.",
        "",
    ]
    return "\n".join(out)
