"""Small helpers shared by the model tests (kept out of conftest.py, which the dashboard tests own)."""

from __future__ import annotations

import numpy as np

from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import ModelParams, with_overrides


def params(**overrides) -> ModelParams:
    """ModelParams with dotted overrides given as keyword arguments with '__' for '.'."""
    return with_overrides(ModelParams(), {k.replace("__", "."): v for k, v in overrides.items()})


def run(p: ModelParams):
    m = PeerwellModel(p, agent_views=False)
    m.run_model()
    return m


def horizon(p: ModelParams, seeds, outcome: str) -> np.ndarray:
    """The outcome on the last day, one value per seed (replicates with common random numbers)."""
    out = []
    for s in seeds:
        q = with_overrides(p, {"seed": s})
        out.append(run(q).summary[outcome])
    return np.array(out)


def peerwell_here(capsys, *args) -> tuple[int, str]:
    """Run a `peerwell` command in this process (no interpreter start); return (exit code, all it
    printed)."""
    from peerwell.scenarios.cli import main

    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out + out.err
