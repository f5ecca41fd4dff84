"""Pure functions from result tables to numbers and figures; no simulation is run here.

Summaries at the horizon with bootstrap confidence intervals and paired (common-random-number)
differences, trajectory bands, heatmaps of two-parameter sweeps, Morris and Sobol' indices, and
the comparison report. The names in ``__all__`` are the public interface (loaded on first use);
every module below ``peerwell.analysis`` is internal.
"""

from __future__ import annotations

import importlib

# public name -> the module (below this package) that defines it
_WHERE = {
    "MAIN": "stats",
    "OUTCOMES": "stats",
    "benefits_risks_figure": "compare_figures",
    "bootstrap_ci": "stats",
    "forest_figure": "compare_figures",
    "horizon_grid": "heatmap",
    "horizon_table": "stats",
    "morris_indices": "sensitivity",
    "plot_heatmap": "heatmap",
    "plot_morris": "sensitivity",
    "plot_sobol": "sensitivity",
    "plot_trajectories": "plots",
    "render_report": "report",
    "sobol_indices": "sensitivity",
    "start_end_table": "summary",
    "summary_table": "stats",
    "trajectory_bands": "stats",
    "trajectory_figure": "compare_figures",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'peerwell.analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
