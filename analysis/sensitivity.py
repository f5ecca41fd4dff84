"""Morris and Sobol' sensitivity indices (SALib's analyzers) and their figures.

Pure functions from a design matrix and model outputs to tables and figures: no simulation is run
here. The indices are SALib's own; this module only shapes them into one row per parameter with
confidence intervals and a rank, and draws them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _rng(seed: int) -> np.random.Generator:
    # A Generator, not the int: SALib's Sobol' analyzer treats seed=0 as "unseeded" (`if seed:`)
    # and its intervals would then change from call to call.
    return np.random.default_rng(seed)


def _problem(names: list[str], bounds: list[tuple[float, float]]) -> dict:
    return {"num_vars": len(names), "names": list(names), "bounds": [list(b) for b in bounds]}


def morris_indices(
    names: list[str],
    bounds: list[tuple[float, float]],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    num_levels: int = 4,
    conf_level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Morris elementary-effect screening (SALib ``morris.analyze``).

    Parameters
    ----------
    names, bounds : lists
        The parameters and their sampled ranges, in the columns' order of ``X``.
    X : ndarray (n_points, n_params)
        The values actually run (after rounding of integer parameters).
    Y : ndarray (n_points,)
        The outcome of each point.
    num_levels : int
        The grid levels of the Morris sample.
    conf_level : float
        Confidence level of the bootstrap interval of μ*.
    seed : int
        Seed of SALib's bootstrap (any int, 0 included, gives reproducible intervals).

    Returns
    -------
    DataFrame
        One row per parameter: ``mu``, ``mu_star``, ``mu_star_conf`` (half-width),
        ``mu_star_lo``, ``mu_star_hi``, ``sigma``, ``rank`` (1 = largest μ*), sorted by rank.
    """
    from SALib.analyze import morris

    r = morris.analyze(
        _problem(names, bounds),
        np.asarray(X, dtype=float),
        np.asarray(Y, dtype=float),
        num_levels=num_levels,
        conf_level=conf_level,
        seed=_rng(seed),
    )
    df = pd.DataFrame(
        {
            "parameter": list(names),
            "lo": [b[0] for b in bounds],
            "hi": [b[1] for b in bounds],
            "mu": np.asarray(r["mu"], dtype=float),
            "mu_star": np.asarray(r["mu_star"], dtype=float),
            "mu_star_conf": np.asarray(r["mu_star_conf"], dtype=float),
            "sigma": np.asarray(r["sigma"], dtype=float),
        }
    )
    df["mu_star_lo"] = df["mu_star"] - df["mu_star_conf"]
    df["mu_star_hi"] = df["mu_star"] + df["mu_star_conf"]
    df["conf_level"] = conf_level
    df["rank"] = df["mu_star"].rank(ascending=False, method="min").astype(int)
    cols = ["parameter", "rank", "mu_star", "mu_star_conf", "mu_star_lo", "mu_star_hi"]
    cols += ["sigma", "mu", "lo", "hi", "conf_level"]
    return df[cols].sort_values("rank", kind="stable").reset_index(drop=True)


def sobol_indices(
    names: list[str],
    bounds: list[tuple[float, float]],
    Y: np.ndarray,
    *,
    second_order: bool = False,
    conf_level: float = 0.95,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Sobol' first-order and total-order indices (SALib ``sobol.analyze``).

    Parameters
    ----------
    names, bounds : lists
        The parameters and their sampled ranges.
    Y : ndarray
        Outputs in the order of SALib's Saltelli/Sobol' sample.
    second_order : bool
        Whether the sample has the second-order block (then S2 is returned too).
    conf_level : float
        Confidence level of the bootstrap intervals.
    seed : int
        Seed of SALib's bootstrap.

    Returns
    -------
    (DataFrame, DataFrame or None)
        One row per parameter: ``S1``, ``S1_conf``, ``S1_lo``, ``S1_hi``, the same for ``ST``, and
        ``rank`` (1 = largest ST); and, with ``second_order``, one row per pair with ``S2``.
    """
    from SALib.analyze import sobol

    r = sobol.analyze(
        _problem(names, bounds),
        np.asarray(Y, dtype=float),
        calc_second_order=second_order,
        conf_level=conf_level,
        seed=_rng(seed),
    )
    df = pd.DataFrame({"parameter": list(names), "lo": [b[0] for b in bounds]})
    df["hi"] = [b[1] for b in bounds]
    for k in ("S1", "ST"):
        df[k] = np.asarray(r[k], dtype=float)
        df[f"{k}_conf"] = np.asarray(r[f"{k}_conf"], dtype=float)
        df[f"{k}_lo"] = df[k] - df[f"{k}_conf"]
        df[f"{k}_hi"] = df[k] + df[f"{k}_conf"]
    df["conf_level"] = conf_level
    df["rank"] = df["ST"].rank(ascending=False, method="min").astype(int)
    cols = ["parameter", "rank", "S1", "S1_conf", "S1_lo", "S1_hi"]
    cols += ["ST", "ST_conf", "ST_lo", "ST_hi", "lo", "hi", "conf_level"]
    table = df[cols].sort_values("rank", kind="stable").reset_index(drop=True)
    pairs = None
    if second_order:
        rows = []
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                rows.append(
                    {
                        "parameter_1": names[i],
                        "parameter_2": names[j],
                        "S2": float(r["S2"][i, j]),
                        "S2_conf": float(r["S2_conf"][i, j]),
                    }
                )
        pairs = pd.DataFrame(rows)
    return table, pairs


def _pyplot():
    """pyplot on the file-only backend, and seaborn: loaded when a figure is drawn, so a command
    refused for a wrong value does not wait the two seconds they take to import."""
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt
    import seaborn as sns

    return plt, sns


def _save(fig, path: str | Path) -> Path:
    plt, _ = _pyplot()
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=110)
    fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)
    return path.with_suffix(".png")


def plot_morris(table: pd.DataFrame, path: str | Path, outcome: str = "") -> Path:
    """Morris μ*–σ plot with μ* confidence bars; writes PNG and SVG, returns the PNG path."""
    plt, sns = _pyplot()
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    ax.errorbar(
        table["mu_star"],
        table["sigma"],
        xerr=table["mu_star_conf"],
        fmt="o",
        color="C0",
        ecolor="0.6",
        capsize=3,
    )
    for row in table.itertuples():
        ax.annotate(
            str(row.parameter),
            (row.mu_star, row.sigma),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=8,
        )
    top = max(float(table["mu_star"].max()), float(table["sigma"].max()), 1e-12)
    ax.plot([0, top], [0, top], ls="--", lw=0.8, color="0.5", label="σ = μ*")
    ax.set_xlabel("μ* (mean |elementary effect|)")
    ax.set_ylabel("σ (spread of effects: interactions, non-linearity)")
    ax.set_title(f"Morris screening{': ' + outcome if outcome else ''}")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_sobol(table: pd.DataFrame, path: str | Path, outcome: str = "") -> Path:
    """First-order and total-order Sobol' bars with confidence intervals (PNG and SVG)."""
    plt, sns = _pyplot()
    sns.set_theme(style="whitegrid", context="notebook")
    n = len(table)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * n + 3), 4.8))
    x = np.arange(n)
    w = 0.38
    ax.bar(x - w / 2, table["S1"], w, yerr=table["S1_conf"], capsize=3, label="first order S1")
    ax.bar(x + w / 2, table["ST"], w, yerr=table["ST_conf"], capsize=3, label="total order ST")
    ax.set_xticks(x)
    ax.set_xticklabels(table["parameter"], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("share of output variance")
    ax.set_title(f"Sobol' indices{': ' + outcome if outcome else ''}")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.legend(fontsize=8)
    return _save(fig, path)
