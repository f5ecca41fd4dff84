"""Where users work: the scenario catalogue, experiments (replicates, comparisons, sweeps,
sensitivity analysis), the result store, the ``peerwell`` command and the dashboard.

The names in ``__all__`` are the public interface of this package; they are loaded on first use
(``import peerwell.scenarios.cli`` for the command line must not load the whole package). Every
module below ``peerwell.scenarios`` is internal: its names may change without notice. Most users
want the higher-level functions of :mod:`peerwell` (``peerwell.run``, ``peerwell.compare``, ...).
"""

from __future__ import annotations

from peerwell._lazy import lazy_names

# public name -> the module (below this package) that defines it
_WHERE = {
    "CollectError": "collect",
    "Collected": "collect",
    "ComparisonResult": "compare",
    "DEFAULT_ROOT_SEED": "compare",
    "RunConfig": "config",
    "RunResult": "runner",
    "SensitivityError": "sensitivity",
    "SensitivityResult": "sensitivity",
    "SweepConfig": "sweep",
    "analyze_sweep": "sensitivity",
    "list_scenarios": "catalogue",
    "load_scenario": "catalogue",
    "params_from_cfg": "config",
    "replicate_seeds": "replicates",
    "run_comparison": "compare",
    "run_id": "store",
    "scenario_names": "catalogue",
    "simulate": "runner",
    "write_collected": "collect",
    "write_run": "runner",
}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_names(__name__, _WHERE)
