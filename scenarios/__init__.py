"""Where users work: the scenario catalogue, experiments (replicates, comparisons, sweeps,
sensitivity analysis), the result store, the ``peerwell`` command and the dashboard.

The names in ``__all__`` are the public interface of this package; they are loaded on first use
(``import peerwell.scenarios.cli.core`` for the command line must not load the whole package). Every
module below ``peerwell.scenarios`` is internal: its names may change without notice. Most users
want the higher-level functions of :mod:`peerwell` (``peerwell.run``, ``peerwell.compare``, ...).
"""

from __future__ import annotations

from peerwell._lazy import lazy_names

# public name -> the module (below this package) that defines it
_WHERE = {
    "CollectError": "experiments.collect",
    "Collected": "experiments.collect",
    "ComparisonResult": "experiments.compare",
    "DEFAULT_ROOT_SEED": "experiments.compare",
    "RunConfig": "config",
    "RunResult": "experiments.runner",
    "SensitivityError": "experiments.sensitivity",
    "SensitivityResult": "experiments.sensitivity",
    "SweepConfig": "experiments.sweep",
    "analyze_sweep": "experiments.sensitivity",
    "list_scenarios": "catalogue",
    "load_scenario": "catalogue",
    "params_from_cfg": "config",
    "replicate_seeds": "experiments.replicates",
    "run_comparison": "experiments.compare",
    "run_id": "experiments.store",
    "scenario_names": "catalogue",
    "simulate": "experiments.runner",
    "write_collected": "experiments.collect",
    "write_run": "experiments.runner",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_names(__name__, _WHERE)
