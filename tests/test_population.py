"""The day-0 population: the draws have the distributions they promise."""

import numpy as np
import pytest
from scipy import stats
from util import params

from peerwell.simulation.population import _beta, init_state


@pytest.mark.parametrize(("a", "b"), [(2, 2), (3.5, 3.08), (0.25, 0.25), (0.5, 4), (100, 100)])
def test_tabulated_beta_inverse_matches_scipy(a, b):
    u = np.random.default_rng(1).random(100_000)
    x = _beta(u, a / (a + b), a + b)
    assert np.abs(x - stats.beta.ppf(u, a, b)).max() < 2e-6


def test_population_shares_follow_the_parameters():
    st = init_state(params(population__size=50_000))
    dx = np.bincount(st.static["diagnosis"], minlength=3) / 50_000
    assert dx == pytest.approx([0.30, 0.30, 0.40], abs=0.01)
    role = np.bincount(st.cur["role"], minlength=3) / 50_000
    assert role == pytest.approx([0.90, 0.09, 0.01], abs=0.005)
    assert (st.cur["community"] >= 0).mean() == pytest.approx(0.70, abs=0.01)
    care = np.bincount(st.cur["care"], minlength=4) / 50_000
    assert care == pytest.approx([0.30, 0.04, 0.50, 0.16], abs=0.01)
    a0 = st.static["activation0"]
    for k, (mean, sd) in enumerate([(57.4, 10.4), (66.6, 17.5), (55.4, 14.6)]):
        sel = st.static["diagnosis"] == k
        assert a0[sel].mean() == pytest.approx(mean, abs=0.6)
        assert a0[sel].std() == pytest.approx(
            sd, rel=0.06
        )  # clipping at 0-100 trims the SD a little


def test_no_spread_in_use_puts_everyone_at_the_mean():
    st = init_state(params(population__size=1000, population__social_media_use_concentration=0.0))
    assert (st.static["use"] == 0.5).all()
