"""Where users work: the scenario catalogue, experiments, evidence, the command and the dashboard.

Its rooms, from the edge inwards:

- ``cli``: the ``peerwell`` command: parse, call the rooms below, print, exit.
- ``dashboard``: the Solara dashboard (``peerwell dashboard``) and its pages.
- ``evidence``: what the model answers to: anchors, parameter sources, calibration, classic models.
- ``experiments``: the engine: runs, replicates, comparisons, sweeps, sensitivity, the result store.
- ``catalogue``: the named scenarios and generated ablations; registers them with Hydra.
- ``config``: the typed schema of a run; ``hydra_guard``: checks on every config Hydra reads.

May import: ``peerwell.analysis``, ``peerwell.simulation``, ``peerwell._lazy``. A room imports
only rooms listed below it, never one above it nor a sibling on its own line (``config`` and
``hydra_guard``); the layers are drawn, and held by ``tests/test_architecture.py``, in
``docs/architecture.md``.

The names in ``__all__`` are the public interface of this package; they are loaded on first use
(``docs/architecture.md`` says why). Every module below ``peerwell.scenarios`` is internal: its
names may change without notice. Most users want the higher-level functions of :mod:`peerwell`
(``peerwell.run``, ``peerwell.compare``, ...).
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
