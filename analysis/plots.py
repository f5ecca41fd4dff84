"""Figures from result tables (seaborn on matplotlib); no simulation is run here."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: figures are written, never shown, so no display is needed
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

DPI = 110  # the figures' resolution, files and bytes alike

# The three outcomes users named first, then wellbeing split by kind.
TRAJECTORY_PANELS = [
    ("activation_mean", "Activation (PAM 0-100)"),
    ("care_seeking_share", "Seeking or in care (share)"),
    ("wellbeing_mental_mean", "Mental wellbeing (0-1)"),
    ("wellbeing_physical_mean", "Physical wellbeing (0-1)"),
]


def plot_trajectories(
    df: pd.DataFrame,
    path: str | Path | None = None,
    hue: str | None = None,
    *,
    outcomes: Sequence[str] | None = None,
) -> Path | Figure:
    """Activation, care-seeking and wellbeing over time, one panel each.

    Parameters
    ----------
    df : DataFrame
        Trajectories with a ``step`` column and the outcome columns; several runs may be stacked.
    path : path, optional
        Where to write the PNG (an SVG is written beside it when the suffix is ``.svg``). Without
        it the figure is returned instead.
    hue : str, optional
        Column that separates lines (e.g. ``scenario``); with several runs per hue level,
        seaborn draws the mean with a 95% band.
    outcomes : sequence of str, optional
        Outcome columns, one panel each (default: the four of :data:`TRAJECTORY_PANELS`, titled
        as there; another column is titled by its name).

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
        ``path``, once written; or, without a path, the figure, closed for pyplot so that
        Jupyter shows it once, when it ends a cell, and ``fig.savefig(...)`` still writes it.

    Raises
    ------
    KeyError
        An outcome is not a column of ``df``.
    """
    titles = dict(TRAJECTORY_PANELS)
    names = list(outcomes) if outcomes is not None else list(titles)
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise KeyError(f"not outcome columns: {missing}")
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False)
    axes = list(axes[0])
    for ax, col in zip(axes, names):
        sns.lineplot(
            data=df,
            x="step",
            y=col,
            hue=hue,
            ax=ax,
            errorbar=("ci", 95) if hue else None,
            legend=ax is axes[-1] and hue is not None,
        )
        ax.set_title(titles.get(col, col))
        ax.set_xlabel("day")
        ax.set_ylabel("")
    fig.tight_layout()
    plt.close(fig)
    if path is None:
        return fig
    path = Path(path)
    fig.savefig(path, dpi=DPI)
    return path


def png_bytes(fig: Figure) -> bytes:
    """``fig`` as PNG bytes, drawn as :func:`plot_trajectories` writes its files.

    For a caller that writes the file itself, atomically: drawing takes about a second, writing
    the bytes microseconds, so a process killed while drawing leaves no temp file behind.
    """
    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI, format="png")
    return buf.getvalue()
