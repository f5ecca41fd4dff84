"""The counter-based generator: Numba and Python twins agree; draws look uniform and independent."""

import math

import numpy as np
import pytest
from numba import njit
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


# --- draws the kernels skip: the answer is always that of the full expression -----------------

KEY = rng.step_key(3, rng.STREAM_MISINFO, 11)


def _flip_hazard(person: int, draw: int) -> float:
    """The smallest hazard at which the full expression says yes for this draw: its boundary.

    Found by bisection on the bit patterns of positive floats (ordered like the floats), with the
    compiled expression itself, so the boundary is that of the same ``exp`` the kernels call.
    """
    lo = int(np.float64(5e-324).view(np.int64))  # the answer is no here (a chance of ~0 <= u)
    hi = int(np.float64(40.0).view(np.int64))  # and yes here (1 - exp(-40) rounds to 1 > u)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _full_expression(np.uint64(KEY), person, draw, np.int64(mid).view(np.float64)):
            hi = mid
        else:
            lo = mid
    return float(np.int64(hi).view(np.float64))


def _hazards_near(person: int, draw: int, u: float) -> list[float]:
    """Hazards around the answer's flip, and around the shortcut's two cheap bounds h and h - h²/2."""
    out = []
    for h0 in (_flip_hazard(person, draw), u, u + u * u / 2):
        h = h0
        for _ in range(4):
            h = np.nextafter(h, 0.0)
        for _ in range(9):
            out.append(float(h))
            h = np.nextafter(h, np.inf)
    return out


@njit
def _full_expression(key, person, draw, hazard):
    """What ``hazard_chance`` stands for, written out in compiled code of its own.

    It must be compiled: the shortcut is only claimed to equal *the same code's* full expression,
    so both sides have to call the same ``exp``. Numba's ``math.exp`` is the C library's; numpy's
    ``exp`` takes a SIMD path chosen by the CPU (AVX-512 on some machines here), which can differ
    from it in the last bit, and this test picks hazards exactly at that rounding boundary.
    """
    if not hazard > 0.0:
        return False
    return rng.uniform(key, person, draw) < 1.0 - math.exp(-hazard)


def test_hazard_chance_equals_the_full_expression_even_at_the_boundary():
    checked = 0
    for person in range(400):
        for draw in (0, 1):
            u = rng.uniform_py(KEY, person, draw)
            hazards = [0.0, -1.0, float("nan"), float("inf"), 1e-300, 0.6931471805599453,
                       0.6931471805599454, 2.0, *_hazards_near(person, draw, u)]  # fmt: skip
            for h in hazards:
                exact = _full_expression(np.uint64(KEY), person, draw, h)
                assert rng.hazard_chance(np.uint64(KEY), person, draw, h) is exact, (person, h)
                checked += 1
    assert checked > 20_000


def test_the_boundary_hazards_straddle_the_answer():
    """The boundary test is worth something only if its hazards flip the answer: they do."""
    for person in range(50):
        h = _flip_hazard(person, 0)
        assert _full_expression(np.uint64(KEY), person, 0, h)
        assert not _full_expression(np.uint64(KEY), person, 0, np.nextafter(h, 0.0))
        # and the flip sits where the closed form puts it, to within the spacing of floats near 1
        assert 1.0 - math.exp(-h) == pytest.approx(rng.uniform_py(KEY, person, 0), abs=3e-16)


def test_hazard_chance_skips_the_exponential_for_most_draws():
    """The cheap bounds decide unless u falls within h²/2 of h: a test of the shortcut itself."""
    h = 0.1
    u = rng.uniforms(np.uint64(KEY), 100_000, 0)
    undecided = np.mean((u >= h - h * h / 2 - rng.HAZARD_MARGIN) & (u < h + rng.HAZARD_MARGIN))
    assert undecided == pytest.approx(h * h / 2, abs=0.002)


def test_chance_equals_the_draw_against_p():
    for person in range(2000):
        u = rng.uniform_py(KEY, person, 2)
        for p in (0.0, -0.5, 1.0, 1.5, float("nan"), u, np.nextafter(u, 1.0), np.nextafter(u, 0.0)):
            assert rng.chance(np.uint64(KEY), person, 2, p) is bool(u < p), (person, p)
