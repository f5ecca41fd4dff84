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
t = int(sys.argv[2])
# threads=t: 1,500 people is below the size where the model takes a second thread by itself.
m = PeerwellModel(**{"population.size": 1500, "steps": 40, "seed": 9}, threads=t)
assert numba.get_num_threads() == t and m.day_threads(numba.get_num_threads()) == t
m.run_model()
assert numba.get_num_threads() == t
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


def test_the_automatic_thread_count_changes_no_result_and_leaves_the_callers_setting():
    """A small model runs its days on one thread by itself (a second costs more than it brings,
    ``benchmarks/bench_threads.py``), a mid-sized one times both counts on its first days and
    keeps the faster; forced onto two it gives the same state to the bit, and in every case the
    caller's own thread setting is what it was after each step."""
    import numba

    from peerwell.simulation import model as M

    assert M.auto_threads(1000, 10_000, 2) == 1
    assert M.auto_threads(M.ONE_THREAD_BELOW - 1001, 1000, 2) == 1
    assert M.auto_threads(M.ONE_THREAD_BELOW - 1000, 1000, 2) is None  # measured
    assert M.auto_threads(M.ALL_THREADS_FROM - 1000, 1000, 2) == 2
    assert M.auto_threads(10**6, 2 * 10**7, 1) == 1  # never more than Numba has
    have = numba.get_num_threads()
    small = {"population.size": 600, "steps": 15, "seed": 4}  # 600 + 6,000 tie ends: one thread
    mid = {"population.size": 3000, "steps": 15, "seed": 4}  # about 33,000: measured
    models = {(k, t): M.PeerwellModel(**cfg, threads=t)
              for k, cfg in (("small", small), ("mid", mid)) for t in (None, 1, 2)}  # fmt: skip
    assert models["small", None].day_threads(2) == 1 and models["small", 2].day_threads(2) == 2
    assert models["small", 2].day_threads(1) == 1
    for m in models.values():
        while m.running:
            m.step()
            assert numba.get_num_threads() == have
    for k in ("small", "mid"):
        frames = [models[k, t].trajectories() for t in (None, 1, 2)]
        for f in frames[1:]:
            pd.testing.assert_frame_equal(frames[0], f, check_exact=True)
    probe = models["mid", None]._thread_choice
    if have >= 2:  # 14 measured days: 4 on each count, then the choice
        assert probe is not None and probe.chosen in (1, 2)
        assert [len(probe.seconds[t]) for t in (1, 2)] == [M.PROBE_DAYS] * 2
    with pytest.raises(ValueError, match="threads=0"):
        M.PeerwellModel(**{"population.size": 100, "steps": 2}, threads=0)


def test_the_thread_choice_keeps_the_count_whose_median_day_is_faster():
    """ThreadChoice alternates the counts, then keeps more threads only for a 5% gain."""
    from peerwell.simulation.model import PROBE_DAYS, ThreadChoice

    def choose(one: float, two: float) -> int:
        c = ThreadChoice(2)
        for _ in range(2 * PROBE_DAYS):
            t = c.next()
            c.record(t, one if t == 1 else two)
        assert c.next() == c.chosen
        return c.chosen

    assert choose(1.0, 0.80) == 2
    assert choose(1.0, 0.96) == 1  # within 5%: a second thread is not worth waking
    assert choose(1.0, 1.20) == 1
    c = ThreadChoice(2)
    assert [c.next() for _ in range(1)] == [1]
    c.record(1, 1.0)
    assert c.next() == 2  # in turn, so that load falls on both counts alike


def test_population_is_a_prefix_of_a_larger_one():
    """Person i is the same person at any population size (the draws are per person)."""
    from peerwell.simulation.population import init_state

    small = init_state(params(population__size=500))
    large = init_state(params(population__size=2000))
    for name in ("diagnosis", "activation0", "stigma0", "use", "vulnerable", "belonging_offline"):
        assert (small.static[name] == large.static[name][:500]).all(), name
    for name in ("role", "misinfo", "trust"):
        assert (small.cur[name] == large.cur[name][:500]).all(), name


def test_run_json_records_seed_config_and_version(tmp_path):
    from peerwell.scenarios.experiments.runner import simulate, write_run

    result = simulate(params(population__size=300, steps=5, seed=21))
    write_run(result, tmp_path, figure=False)
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["seed"] == 21
    assert meta["config"]["population"]["size"] == 300
    assert meta["peerwell_version"]
    assert "git_revision" in meta and "wall_time_seconds" in meta
    stored = pd.read_parquet(tmp_path / "trajectories.parquet")
    pd.testing.assert_frame_equal(stored, result.trajectories, check_exact=True)
