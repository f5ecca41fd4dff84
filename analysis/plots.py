"""Figures from result tables (seaborn on matplotlib); no simulation is run here."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: figures are written, never shown, so no display is needed
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

# The three outcomes users named first, then wellbeing split by kind.
TRAJECTORY_PANELS = [
    ("activation_mean", "Activation (PAM 0-100)"),
    ("care_seeking_share", "Seeking or in care (share)"),
    ("wellbeing_mental_mean", "Mental wellbeing (0-1)"),
    ("wellbeing_physical_mean", "Physical wellbeing (0-1)"),
]


def plot_trajectories(df: pd.DataFrame, path: str | Path, hue: str | None = None) -> Path:
    """Activation, care-seeking and wellbeing over time, one panel each.

    Parameters
    ----------
    df : DataFrame
        Trajectories with a ``step`` column and the outcome columns; several runs may be stacked.
    path : path
        Where to write the PNG (an SVG is written beside it when the suffix is ``.svg``).
    hue : str, optional
        Column that separates lines (e.g. ``scenario``); with several runs per hue level,
        seaborn draws the mean with a 95% band.
    """
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, len(TRAJECTORY_PANELS), figsize=(4.2 * len(TRAJECTORY_PANELS), 3.6))
    for ax, (col, title) in zip(axes, TRAJECTORY_PANELS):
        sns.lineplot(
            data=df,
            x="step",
            y=col,
            hue=hue,
            ax=ax,
            errorbar=("ci", 95) if hue else None,
            legend=ax is axes[-1] and hue is not None,
        )
        ax.set_title(title)
        ax.set_xlabel("day")
        ax.set_ylabel("")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
