"""Small helpers shared by the model tests (kept out of conftest.py, which the dashboard tests own)."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numba
import numpy as np
import pytest

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


def one_day(m: PeerwellModel):
    """Step ``m`` one day; return (day t's state, day t+1's state, today's flows), all copies:
    what the one-day specification tests compare with the ODD's rules."""
    before = {k: v.copy() for k, v in m.state.cur.items()}
    m.step()
    after = {k: v.copy() for k, v in m.state.cur.items()}
    flows = {k: v.copy() for k, v in m.state.scratch.items()}
    return before, after, flows


def peerwell_here(capsys, *args) -> tuple[int, str]:
    """Run a `peerwell` command in this process (no interpreter start); return (exit code, all it
    printed)."""
    from peerwell.scenarios.cli.core import main

    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture(autouse=True, scope="module")
def one_numba_thread():
    """One Numba thread for a module's in-process runs: two test workers share two cores (more
    threads would spin against each other), and results do not depend on the thread count.
    Import it into a test module to apply it there."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


@dataclass
class Done:
    """What a command run in this process returned and printed."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


def peerwell_inprocess(*args: str) -> Done:
    """Run a `peerwell` command in this process without pytest's capsys (usable in module
    fixtures). In-process runs reuse joblib's worker processes from one sweep to the next, which
    saves their start-up (imports, compiled kernels) in every test after the first."""
    from peerwell.scenarios.cli.core import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code
    return Done(code, out.getvalue(), err.getvalue())
