"""peerwell: agent-based simulation of online peer networks for people with serious mental illness.

The Python API (``peerwell.run``, ``peerwell.compare``, ``peerwell.sweep``, ...) is defined in
``peerwell/api.py`` and loaded on first use, so ``import peerwell`` stays fast for the command
line. The sub-packages are :mod:`peerwell.simulation` (one run), :mod:`peerwell.scenarios`
(scenarios, experiments, the CLI and the dashboard) and :mod:`peerwell.analysis` (tables and
figures from results).

Examples
--------
>>> import peerwell
>>> result = peerwell.run("baseline", seed=7, steps=30, population__size=500)
>>> result.trajectories[["step", "activation_mean"]].tail(1)  # doctest: +SKIP
"""

import os
from importlib.metadata import PackageNotFoundError, version

# Numba's OpenMP threads spin while they wait by default; on a busy machine (a sweep running one
# model per core, a laptop doing other work) the spinning steals the cores the work needs, and a
# 2-thread run was measured 10x slower than a 1-thread one. Passive waiting costs microseconds per
# parallel region on an idle machine. Set OMP_WAIT_POLICY yourself to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    __version__ = version("peerwell")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

# The public API (peerwell.api), loaded lazily: importing it loads Hydra, pandas and the kernels.
__all__ = [
    "DEFAULT_ROOT_SEED",
    "Collection",
    "CommandError",
    "Comparison",
    "ConfigError",
    "Heatmap",
    "Overrides",
    "PeerwellError",
    "PeerwellModel",
    "Posterior",
    "Result",
    "Sensitivity",
    "__version__",
    "calibrate_abc",
    "collect",
    "compare",
    "list_params",
    "list_scenarios",
    "load_scenario",
    "make_model",
    "override_strings",
    "run",
    "sensitivity",
    "sweep",
]

_FROM_SIMULATION = {"ConfigError", "PeerwellError", "PeerwellModel"}


def __getattr__(name: str):
    if name in _FROM_SIMULATION:
        from peerwell import simulation

        return getattr(simulation, name)
    if name in __all__:
        from peerwell import api

        return getattr(api, name)
    raise AttributeError(f"module 'peerwell' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
