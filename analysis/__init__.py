"""Pure functions from result tables to numbers and figures; no simulation is run here.

Summaries at the horizon with bootstrap confidence intervals and paired (common-random-number)
differences, trajectory bands, heatmaps of two-parameter sweeps, Morris and Sobol' indices, and
the comparison report. The names in ``__all__`` are the public interface (loaded on first use,
see ``docs/architecture.md``); every module below ``peerwell.analysis`` is internal.

May import: ``peerwell.simulation`` and ``peerwell._lazy``; never ``peerwell.scenarios`` (which
calls it) nor ``peerwell.api``. The layers are drawn, and held by a test, in
``docs/architecture.md``.
"""

from __future__ import annotations

from peerwell._lazy import lazy_names

# public name -> the module (below this package) that defines it
_WHERE = {
    "MAIN": "summary",
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

__getattr__, __dir__ = lazy_names(__name__, _WHERE)
