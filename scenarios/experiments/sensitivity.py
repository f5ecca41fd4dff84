"""`peerwell sensitivity`: Morris or Sobol' analysis on top of the sweep machinery and store.

The command is a sweep with ``design=morris|sobol`` into ``output_dir`` (so it runs in parallel
through the same Hydra launcher, writes the same run store and resumes the same way), followed by
SALib's analyzer on the outcome at the horizon of each design point (the mean over seeds when
``seed=a,b,c`` gives replicates). It writes ``sensitivity.csv`` (one row per parameter, indices
with confidence intervals, ranked) and ``sensitivity.png``/``.svg``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from peerwell.analysis.sensitivity import morris_indices, plot_morris, plot_sobol, sobol_indices
from peerwell.scenarios.experiments.store import atomic_write_bytes, atomic_write_json, run_file
from peerwell.simulation.errors import PeerwellError

METHODS = ("morris", "sobol")


class SensitivityError(PeerwellError):
    """The sweep directory does not hold a complete sensitivity design."""


@dataclass
class SensitivityResult:
    """Indices of one analysis and where they were written."""

    table: pd.DataFrame
    pairs: pd.DataFrame | None
    csv: Path
    figure: Path
    n_runs: int


def horizon_outcomes(sweep_dir: Path, run_ids: list[str], outcome: str) -> pd.Series:
    """The outcome on each run's last recorded day, indexed by run_id (one dataset read)."""
    files = [str(run_file(sweep_dir, r)) for r in dict.fromkeys(run_ids)]
    table = ds.dataset(files, format="parquet").to_table(columns=["run_id", "step", outcome])
    df = table.to_pandas()
    last = df.loc[df.groupby("run_id")["step"].idxmax()]
    return last.set_index("run_id")[outcome]


def analyze_sweep(
    sweep_dir: str | Path, outcome: str, *, conf_level: float = 0.95
) -> SensitivityResult:
    """Compute and write the indices of a finished ``design=morris|sobol`` sweep.

    Parameters
    ----------
    sweep_dir : path
        The sensitivity run's ``output_dir`` (a sweep directory with ``sweep.json`` and
        ``design.csv``).
    outcome : str
        Outcome column; its value on the last recorded day of each run is the model output.
    conf_level : float
        Confidence level of SALib's bootstrap intervals.

    Returns
    -------
    SensitivityResult

    Raises
    ------
    SensitivityError
        No Morris/Sobol' plan in the folder, or runs of the design are missing.
    """
    sweep_dir = Path(sweep_dir)
    try:
        plan = json.loads((sweep_dir / "sweep.json").read_text())
        x = pd.read_csv(sweep_dir / "design.csv")
    except (OSError, ValueError) as exc:
        raise SensitivityError(f"{sweep_dir} holds no sensitivity design ({exc})") from None
    d = plan.get("design") or {}
    method = d.get("kind")
    if method not in METHODS:
        raise SensitivityError(f"{sweep_dir} holds a {method or 'grid'} sweep, not morris/sobol")
    names = [p["name"] for p in d["params"]]
    bounds = [(p["lo"], p["hi"]) for p in d["params"]]
    runs = pd.DataFrame(plan["runs"])
    missing = [r for r in runs["run_id"].unique() if not run_file(sweep_dir, r).exists()]
    if missing:
        raise SensitivityError(
            f"{len(missing)} runs of the design are missing in {sweep_dir}/runs; rerun the same "
            "command to resume"
        )
    y_run = horizon_outcomes(sweep_dir, list(runs["run_id"]), outcome)
    runs["y"] = runs["run_id"].map(y_run)
    y = runs.groupby("point")["y"].mean().reindex(range(len(x)))
    if y.isna().any():
        raise SensitivityError(f"design points without an output: {list(y[y.isna()].index)[:5]}")
    X = x[names].to_numpy(dtype=float)
    Y = y.to_numpy(dtype=float)
    pairs = None
    if method == "morris":
        table = morris_indices(
            names, bounds, X, Y, num_levels=int(d["levels"]), conf_level=conf_level, seed=d["seed"]
        )
    else:
        table, pairs = sobol_indices(
            names,
            bounds,
            Y,
            second_order=bool(d["second_order"]),
            conf_level=conf_level,
            seed=d["seed"],
        )
    table.insert(1, "outcome", outcome)
    table.insert(2, "method", method)
    table["samples"] = d["samples"]
    table["runs"] = len(runs)
    csv = sweep_dir / "sensitivity.csv"
    atomic_write_bytes(csv, table.to_csv(index=False).encode())
    if pairs is not None:
        atomic_write_bytes(sweep_dir / "sensitivity_s2.csv", pairs.to_csv(index=False).encode())
    plot = plot_morris if method == "morris" else plot_sobol
    figure = plot(table, sweep_dir / "sensitivity.png", outcome=outcome)
    atomic_write_json(
        sweep_dir / "sensitivity.json",
        {
            "method": method,
            "outcome": outcome,
            "conf_level": conf_level,
            "samples": d["samples"],
            "runs": len(runs),
            "output_mean": float(np.mean(Y)),
            "output_sd": float(np.std(Y)),
        },
    )
    return SensitivityResult(table, pairs, csv, figure, len(runs))
