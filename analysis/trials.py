"""The figure of a virtual trial (`peerwell trial`): effects and the arms' trajectories.

Reads the trial.json dict only; no simulation is run here.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt

from .plots import DPI

ARM_COLOURS = {"intervention": "#1b7837", "control": "#762a83"}


def trial_figure(result: dict, path: str | Path) -> Path:
    """Left: simulated and published effect with their 95% intervals (null line at no effect;
    odds ratios on a log axis). Right: the outcome in each arm from randomisation to follow-up
    (mean over replicates), with the share of the intervention arm still in the trial community.
    """
    design = result["design"]
    sim, pub = result["simulated"], result["published"]
    ratio = sim["statistic"] == "odds_ratio"
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 1.5]})
    rows = [("published", pub["effect"], pub["ci"], "#444444"),
            ("simulated", sim["effect"], sim["ci"], "#d95f02")]  # fmt: skip
    for y, (_label, effect, (lo, hi), colour) in enumerate(rows):
        ax.plot([lo, hi], [y, y], color=colour, lw=2.5)
        ax.plot([effect], [y], "o", color=colour, ms=8)
    ax.axvline(1.0 if ratio else 0.0, color="grey", ls="--", lw=1)
    if ratio:
        ax.set_xscale("log")
    ax.set_yticks([0, 1], [r[0] for r in rows])
    ax.set_ylim(-0.6, 1.6)
    name = {"hedges_g": "Hedges' g", "odds_ratio": "odds ratio", "d_from_or": "Cohen's d (from OR)"}
    ax.set_xlabel(f"{name.get(sim['statistic'], sim['statistic'])} (95% CI)")
    within = result.get("within")
    verdict = "compatible" if within else ("not compatible" if within is False else "not measured")
    ax.set_title(f"effect: {verdict} (z = {result.get('z', float('nan')):.2f})", fontsize=10)
    for arm in ("intervention", "control"):
        tr = result["arms"][arm]["trajectory"]
        key = "share" if "share" in tr else "mean"
        bx.plot(tr["day"], tr[key], color=ARM_COLOURS[arm],
                label=f"{arm} (n = {result['arms'][arm]['n']})")  # fmt: skip
    tr = result["arms"]["intervention"]["trajectory"]
    if "in_trial_community" in tr:
        cx = bx.twinx()
        cx.plot(tr["day"], tr["in_trial_community"], color=ARM_COLOURS["intervention"], ls=":",
                lw=1, label="intervention arm in the trial community")  # fmt: skip
        cx.set_ylim(0, 1.05)
        cx.set_ylabel("share still in the trial community", fontsize=8)
        cx.legend(loc="lower right", fontsize=7, frameon=False)
    bx.set_xlabel("days since randomisation")
    bx.set_ylabel(design["outcome"].split(" (")[0], fontsize=9)
    bx.legend(loc="upper left", fontsize=8, frameon=False)
    bx.set_title("arms (mean over replicates)", fontsize=10)
    fig.suptitle(f"virtual trial {design['name']}: {design['title']}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
