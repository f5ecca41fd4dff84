"""Figures of a scenario comparison (seaborn on matplotlib), from result tables only.

Each function returns a matplotlib ``Figure``; the caller saves it (as PNG and SVG) and closes it.
Shares are drawn in percent (differences in percentage points), activation in PAM points, and
0-1 scores as they are.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # files only: figures are written, never shown
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from .stats import MAIN, OUTCOME_BY_NAME

VERDICT_COLOURS = {
    "better": "#1b9e77",
    "worse": "#d95f02",
    "no clear change": "#8c8c8c",
    "too few replicates": "#c8c8c8",
}
KIND_COLOURS = {"benefit": "#1b9e77", "risk": "#d95f02"}


def _scale(outcome: str) -> float:
    """Factor from stored values to drawn values (shares to percent)."""
    o = OUTCOME_BY_NAME.get(outcome)
    return 100.0 if o is not None and o.unit == "share" else 1.0


def _unit(outcome: str, difference: bool = False) -> str:
    o = OUTCOME_BY_NAME.get(outcome)
    if o is None:
        return ""
    if o.unit == "share":
        return "percentage points" if difference else "%"
    if o.unit == "rate":
        return "episodes per person-year"
    return "PAM points" if o.unit == "pam" else "0-1 score"


def _label(outcome: str) -> str:
    o = OUTCOME_BY_NAME.get(outcome)
    return o.label if o is not None else outcome


def _grid(n: int, ncols: int, width: float, height: float, sharey: bool = False):
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, sharey=sharey
    )
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _compact_ticks(ax) -> None:
    """Few x ticks with short labels, and no offset text to collide with the axis label."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.2g}"))


def palette(scenarios: list[str]) -> dict[str, tuple]:
    """A distinct colour per scenario: colour-blind safe up to 10, tab20 beyond."""
    name = "colorblind" if len(scenarios) <= 10 else "tab20"
    return dict(zip(scenarios, sns.color_palette(name, len(scenarios))))


def trajectory_figure(
    bands: pd.DataFrame,
    scenarios: list[str],
    outcomes: list[str] | tuple[str, ...] = MAIN,
    events: dict[str, list[int]] | None = None,
    level: float = 0.95,
) -> Figure:
    """Mean trajectory of each outcome per scenario, with its bootstrap CI band.

    Parameters
    ----------
    bands : DataFrame
        From ``stats.trajectory_bands``: ``scenario, outcome, step, mean, lo, hi``.
    scenarios : list of str
        Scenarios in legend order.
    outcomes : sequence of str
        One panel each.
    events : dict, optional
        Scenario to the days of its timed events (drawn as dotted lines in its colour).
    level : float
        Confidence level of the bands (for the caption).
    """
    sns.set_theme(style="whitegrid", context="notebook")
    colours = palette(scenarios)
    outcomes = [o for o in outcomes if o in set(bands["outcome"])]
    fig, axes = _grid(len(outcomes), 4, 4.2, 3.3)
    for ax, outcome in zip(axes, outcomes):
        k = _scale(outcome)
        for scenario in scenarios:
            b = bands[(bands["outcome"] == outcome) & (bands["scenario"] == scenario)]
            if b.empty:
                continue
            colours_here = colours[scenario]
            ax.fill_between(
                b["step"], k * b["lo"], k * b["hi"], color=colours_here, alpha=0.25, lw=0
            )
            ax.plot(b["step"], k * b["mean"], color=colours_here, lw=1.6)
            for day in (events or {}).get(scenario, []):
                ax.axvline(day, color=colours_here, ls=":", lw=1.0)
        ax.set_title(_label(outcome), fontsize=11)
        ax.set_xlabel("day")
        ax.set_ylabel(_unit(outcome))
    handles = [plt.Line2D([], [], color=colours[s], lw=2) for s in scenarios]
    fig.legend(handles, scenarios, loc="lower center", ncol=min(len(scenarios), 5), frameon=False)
    fig.suptitle(
        f"Mean over replicates with {level:.0%} bootstrap bands (dotted: timed events)", fontsize=12
    )
    fig.tight_layout(rect=(0, 0.06 + 0.03 * (len(scenarios) // 6), 1, 0.96))
    return fig


def forest_figure(
    summary: pd.DataFrame, outcomes: list[str] | tuple[str, ...] | None = None
) -> Figure:
    """Paired differences from the reference scenario with their CIs, one panel per outcome.

    Points are coloured by the verdict, which follows the marks' rule (``stats``: a paired
    t-test, Holm-adjusted over the table): better, worse, no clear change, or too few
    replicates to mark anything.
    """
    sns.set_theme(style="whitegrid", context="notebook")
    diffs = summary[summary["scenario"] != summary["reference"]]
    if outcomes is None:
        risk = [
            o for o in ("uncertainty_mean", "hostile_daily_share") if o in set(diffs["outcome"])
        ]
        outcomes = [*MAIN, *risk]
    outcomes = [o for o in outcomes if o in set(diffs["outcome"])]
    scenarios = list(dict.fromkeys(diffs["scenario"]))
    reference = summary["reference"].iloc[0]
    fig, axes = _grid(len(outcomes), 3, 4.6, 0.5 * len(scenarios) + 1.6)
    for ax, outcome in zip(axes, outcomes):
        d = diffs[diffs["outcome"] == outcome].set_index("scenario").reindex(scenarios)
        k = _scale(outcome)
        y = np.arange(len(scenarios))
        for yi, (_, row) in zip(y, d.iterrows()):
            colour = VERDICT_COLOURS.get(row["verdict"], "#8c8c8c")
            ax.errorbar(
                k * row["diff"],
                yi,
                xerr=[
                    [k * (row["diff"] - row["diff_ci_low"])],
                    [k * (row["diff_ci_high"] - row["diff"])],
                ],
                fmt="o",
                color=colour,
                capsize=3,
            )
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(y, scenarios)
        ax.set_ylim(len(scenarios) - 0.5, -0.5)  # first scenario on top
        _compact_ticks(ax)
        ax.set_title(f"{_label(outcome)} ({_unit(outcome, difference=True)})", fontsize=10)
        ax.set_xlabel(f"difference from {reference}")
    handles = [Patch(color=c, label=v) for v, c in VERDICT_COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    fig.suptitle(
        f"Paired differences from {reference} at the horizon (95% bootstrap CI)", fontsize=12
    )
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    return fig


def benefits_risks_figure(summary: pd.DataFrame) -> Figure:
    """Per scenario: every benefit and risk as a standardised effect, drawn so right is better.

    The effect is the paired difference over the pooled person-level SD (Cohen's d style), its
    sign flipped where lower is better (self-stigma, misinformation, uncertainty, hostility).
    Faded bars: not marked (the marks' rule, ``stats``: Holm-adjusted paired t-test).
    """
    sns.set_theme(style="whitegrid", context="notebook")
    diffs = summary[
        (summary["scenario"] != summary["reference"]) & summary["kind"].isin(KIND_COLOURS)
    ]
    scenarios = list(dict.fromkeys(diffs["scenario"]))
    reference = summary["reference"].iloc[0]
    order = list(dict.fromkeys(diffs.sort_values("kind", kind="stable")["outcome"]))
    fig, axes = _grid(max(1, len(scenarios)), 3, 4.2, 0.32 * len(order) + 1.4, sharey=True)
    for ax, scenario in zip(axes, scenarios):
        d = diffs[diffs["scenario"] == scenario].set_index("outcome").reindex(order)
        sign = np.where(d["better"] == "lower", -1.0, 1.0)
        eff = sign * d["std_diff"].to_numpy(dtype=float)
        lo = sign * d["std_diff_ci_low"].to_numpy(dtype=float)
        hi = sign * d["std_diff_ci_high"].to_numpy(dtype=float)
        lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
        y = np.arange(len(order))
        colours = [KIND_COLOURS[k] for k in d["kind"]]
        alphas = [1.0 if bool(x) else 0.35 for x in d["significant"].fillna(False)]
        for yi, e, c, a in zip(y, eff, colours, alphas):
            ax.barh(yi, 0.0 if np.isnan(e) else e, color=c, alpha=a)
        err = np.vstack([np.nan_to_num(eff - lo), np.nan_to_num(hi - eff)])
        ax.errorbar(np.nan_to_num(eff), y, xerr=err, fmt="none", ecolor="black", capsize=2, lw=0.8)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(y, [_label(o) for o in order], fontsize=9)
        ax.set_ylim(len(order) - 0.5, -0.5)  # benefits on top, risks below
        _compact_ticks(ax)
        ax.set_title(f"{scenario} vs {reference}", fontsize=11)
        ax.set_xlabel("effect in SDs (→ better)")
    handles = [Patch(color=c, label=k) for k, c in KIND_COLOURS.items()]
    handles.append(Patch(color="#8c8c8c", alpha=0.35, label="not marked (Holm-adjusted)"))
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    fig.suptitle("Benefits vs risks: paired difference / person-level SD, 95% CI", fontsize=12)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    return fig
