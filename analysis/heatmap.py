"""Heatmaps of an outcome at the horizon over two swept parameters (mean over seeds).

The "where do the benefits of online peer support outweigh its risks" map: e.g. moderation ×
misinformation prevalence → care-seeking. Pure functions on a collected sweep table; no
simulation is run here.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

# More distinct values than this on an axis (a Latin hypercube, a random design) are binned.
MAX_LEVELS = 12


def _axis(values: pd.Series, bins: int) -> pd.Series:
    if values.nunique() <= MAX_LEVELS:
        return values
    cut = pd.cut(values, bins=bins)
    # Label each bin by its midpoint, so the axis reads as numbers.
    return cut.map(lambda iv: round(float(iv.mid), 6)).astype(float)


def horizon_grid(
    df: pd.DataFrame,
    x: str,
    y: str,
    outcome: str,
    *,
    step: int | None = None,
    bins: int = 8,
) -> pd.DataFrame:
    """Mean of ``outcome`` at the horizon for every (``y``, ``x``) pair.

    Parameters
    ----------
    df : DataFrame
        A collected sweep: one row per run and step with ``run_id``, ``step``, the two parameters
        and the outcome.
    x, y : str
        Column names of the two parameters (x: columns of the grid, y: rows).
    outcome : str
        Outcome column.
    step : int, optional
        The day to read; default the last recorded day of each run.
    bins : int
        Number of bins for an axis with more than ``MAX_LEVELS`` distinct values.

    Returns
    -------
    DataFrame
        Index: values of ``y``; columns: values of ``x``; cells: mean over runs (seeds).
        ``attrs["n"]`` holds the number of runs per cell.

    Raises
    ------
    KeyError
        A named column is missing (the message lists the columns there are).
    ValueError
        No row is at the requested step.
    """
    for col in (x, y, outcome, "run_id", "step"):
        if col not in df.columns:
            raise KeyError(f"column {col!r} is not in the table; columns: {list(df.columns)}")
    if step is None:
        last = df.groupby("run_id")["step"].transform("max")
        at = df[df["step"] == last]
    else:
        at = df[df["step"] == step]
    if at.empty:
        raise ValueError(f"no run has a row at step {step}")
    at = at.assign(**{x: _axis(at[x], bins), y: _axis(at[y], bins)})
    grid = at.pivot_table(index=y, columns=x, values=outcome, aggfunc="mean")
    counts = at.pivot_table(index=y, columns=x, values=outcome, aggfunc="count")
    grid = grid.sort_index(ascending=False)  # larger y at the top, as on a plot's axis
    grid.attrs["n"] = counts.reindex_like(grid)
    return grid


def plot_heatmap(
    grid: pd.DataFrame, path: str | Path, *, outcome: str, x: str, y: str, step_label: str = ""
) -> Path:
    """Draw :func:`horizon_grid`'s table; writes PNG and SVG and returns the PNG path."""
    sns.set_theme(style="white", context="notebook")
    fig, ax = plt.subplots(figsize=(1.0 * grid.shape[1] + 3.5, 0.6 * grid.shape[0] + 2.5))
    annotate = grid.size <= 150
    sns.heatmap(
        grid,
        ax=ax,
        cmap="viridis",
        annot=annotate,
        fmt=".3g",
        cbar_kws={"label": f"{outcome} (mean over seeds)"},
        xticklabels=[
            f"{v:g}" if isinstance(v, (int, float, np.number)) else v for v in grid.columns
        ],
        yticklabels=[f"{v:g}" if isinstance(v, (int, float, np.number)) else v for v in grid.index],
    )
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{outcome} at {step_label or 'the horizon'}")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path.with_suffix(".png"), dpi=110)
    fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)
    return path.with_suffix(".png")
