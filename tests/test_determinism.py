"""Reproducible to the bit: same seed and config give identical results, for 1 or 2 threads."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from util import params, run

SCRIPT = """
import sys, numba
from peerwell.simulation.model import PeerwellModel
m = PeerwellModel(**{"population.size": 1500, "steps": 40, "seed": 9})
m.run_model()
assert numba.get_num_threads() == int(sys.argv[2])
m.trajectories().to_parquet(sys.argv[1])
"""


def test_same_seed_gives_identical_trajectories():
    p = params(population__size=800, steps=40, seed=3)
    a, b = run(p).trajectories(), run(p).trajectories()
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_different_seed_gives_different_trajectories():
    a = run(params(population__size=800, steps=40, seed=3)).trajectories()
    b = run(params(population__size=800, steps=40, seed=4)).trajectories()
    assert not a["activation_mean"].equals(b["activation_mean"])


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_count_does_not_change_results(tmp_path, threads):
    outs = {}
    for t in (1, threads if threads != 1 else 2):
        env = {**os.environ, "NUMBA_NUM_THREADS": str(t)}
        path = tmp_path / f"t{t}.parquet"
        subprocess.run([sys.executable, "-c", SCRIPT, str(path), str(t)], env=env, check=True)
        outs[t] = pd.read_parquet(path)
    frames = list(outs.values())
    pd.testing.assert_frame_equal(frames[0], frames[-1], check_exact=True)


def test_population_is_a_prefix_of_a_larger_one():
    """Person i is the same person at any population size (the draws are per person)."""
    from peerwell.simulation.population import init_state

    small = init_state(params(population__size=500))
    large = init_state(params(population__size=2000))
    for name in ("diagnosis", "activation0", "stigma0", "use", "role"):
        assert (small.static[name] == large.static[name][:500]).all(), name


def test_run_json_records_seed_config_and_version(tmp_path):
    from peerwell.scenarios.runner import simulate, write_run

    result = simulate(params(population__size=300, steps=5, seed=21))
    write_run(result, tmp_path, figure=False)
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["seed"] == 21
    assert meta["config"]["population"]["size"] == 300
    assert meta["peerwell_version"]
    assert "git_revision" in meta and "wall_time_seconds" in meta
    stored = pd.read_parquet(tmp_path / "trajectories.parquet")
    pd.testing.assert_frame_equal(stored, result.trajectories, check_exact=True)
