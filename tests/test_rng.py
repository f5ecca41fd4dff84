"""The counter-based generator: Numba and Python twins agree; draws look uniform and independent."""

import numpy as np
import pytest
from scipy import stats

from peerwell.simulation import rng


@pytest.mark.parametrize("seed", [0, 1, 42, 2**63 - 1])
def test_numba_and_python_uniforms_are_identical(seed):
    for stream in (rng.STREAM_MEMBERSHIP, rng.STREAM_CARE):
        for step in (0, 1, 364, 10_000):
            key = rng.step_key(seed, stream, step)
            for person in (0, 1, 999, 1_000_003):
                for draw in (0, 1, 2):
                    a = rng.uniform(np.uint64(key), person, draw)
                    b = rng.uniform_py(key, person, draw)
                    assert a == b


def test_uniforms_pass_a_kolmogorov_smirnov_test():
    u = rng.uniforms(np.uint64(rng.step_key(7, rng.STREAM_POSTING, 3)), 200_000, 0)
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert 0.0 <= u.min() and u.max() < 1.0


def test_streams_steps_and_draws_are_uncorrelated():
    n = 100_000
    base = rng.uniforms(np.uint64(rng.step_key(7, rng.STREAM_POSTING, 3)), n, 0)
    others = [
        rng.uniforms(np.uint64(rng.step_key(7, rng.STREAM_CARE, 3)), n, 0),
        rng.uniforms(np.uint64(rng.step_key(7, rng.STREAM_POSTING, 4)), n, 0),
        rng.uniforms(np.uint64(rng.step_key(7, rng.STREAM_POSTING, 3)), n, 1),
        rng.uniforms(np.uint64(rng.step_key(8, rng.STREAM_POSTING, 3)), n, 0),
    ]
    for o in others:
        # |r| of independent uniforms has SD 1/sqrt(n) ~ 0.003: 0.02 is more than six SDs.
        assert abs(np.corrcoef(base, o)[0, 1]) < 0.02


def test_initial_population_is_a_prefix_across_sizes():
    small = rng.init_uniforms(5, 1000, 3)
    large = rng.init_uniforms(5, 5000, 3)
    assert np.array_equal(small, large[:1000])
