"""The simulated people are a sample (issue 18): what a person meets follows from the real
community (ODD §7.3), so per-person outcomes do not move with ``population.size`` or with how
many simulated communities the same real communities are spread over, and do move with a
community's real size.

The whole-model checks use ``scenarios/evidence/scale.py``: five seeds per setting, a difference
within t(0.999, 8) standard errors of the difference (from the spread across seeds) is sampling
noise, and each check must be able to see a 10% change of the outcome (30% of the rare misled
share; before issue 18, belonging rose 40% from 1,500 to 12,000 people).
"""

from __future__ import annotations

import numpy as np
import pytest
from util import one_numba_thread  # noqa: F401  (autouse: one Numba thread here)

from peerwell.scenarios.evidence import scale
from peerwell.simulation import kernels as K
from peerwell.simulation import theta as T
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import ModelParams, with_overrides
from peerwell.simulation.theta import pack_theta


def _feed(th, community, post_rate, misinfo, size, supporters, moderation=0.0, prevalence=0.0):
    """One call of the feed kernel on hand-made arrays; the community outputs as a dict. A
    person's posting rate is their role's: the (at most three) rates given become the roles'."""
    nc = len(size)
    out = {k: np.zeros(nc) for k in ("volume", "mis", "acc", "aware", "member_share")}
    members = np.zeros(nc, dtype=np.int64)
    rates, role = np.unique(np.asarray(post_rate, dtype=np.float64), return_inverse=True)
    assert len(rates) <= 3, "one rate per role"
    th = th.copy()
    th[T.POST_RATE_LURKER : T.POST_RATE_LURKER + len(rates)] = rates
    K.feed_kernel(
        th, np.asarray(community, dtype=np.int32), role.astype(np.int8),
        np.asarray(misinfo, dtype=np.int8), np.asarray(size, dtype=np.float64),
        np.full(nc, moderation), np.full(nc, prevalence), np.asarray(supporters, dtype=np.float64),
        members, out["volume"], out["mis"], out["acc"], out["aware"], out["member_share"],
    )  # fmt: skip
    return out | {"members": members}


@pytest.fixture(scope="module")
def th():
    return pack_theta(ModelParams())


def test_the_feed_is_the_real_community_s_posts_by_the_odd(th):
    # ODD §7.3 by hand: three simulated members of a community of 1,000 real ones; one misled.
    eta, pi_sup = th[T.HEALTH_POST_SHARE], th[T.SUPPORTER_POST_RATE]
    rates, misinfo = [0.01, 0.1, 0.5], [0, 1, 2]
    f = _feed(th, [0, 0, 0], rates, misinfo, size=[1000.0], supporters=[2.0])
    members_posts = 1000 / 3 * 0.61  # S/N · Σρ
    sup = 2 * pi_sup
    v = members_posts + sup
    assert f["volume"][0] == pytest.approx(v, rel=1e-12)
    assert f["member_share"][0] == pytest.approx(members_posts / v, rel=1e-12)
    assert f["mis"][0] == pytest.approx(1000 / 3 * eta * 0.1 / v, rel=1e-12)
    assert f["acc"][0] == pytest.approx((1000 / 3 * eta * 0.51 + eta * sup) / v, rel=1e-12)
    assert f["aware"][0] == pytest.approx(1000 / 3 * 0.6 / v, rel=1e-12)


def test_a_larger_sample_of_the_same_community_makes_the_same_feed(th):
    # Every simulated member copied eight times: the same real community, eight times the sample.
    rng = np.random.default_rng(5)
    n = 200
    community = rng.integers(0, 3, n)
    rates = rng.choice([0.002, 0.03, 0.3], n)
    misinfo = rng.integers(0, 3, n)
    args = dict(size=[5600.0, 300.0, 86.0], supporters=[0.0, 1.0, 3.0], moderation=0.3,
                prevalence=0.05)  # fmt: skip
    small = _feed(th, community, rates, misinfo, **args)
    large = _feed(th, np.tile(community, 8), np.tile(rates, 8), np.tile(misinfo, 8), **args)
    for k in ("volume", "mis", "acc", "aware", "member_share"):
        np.testing.assert_allclose(large[k], small[k], rtol=1e-12, err_msg=k)
    np.testing.assert_array_equal(large["members"], 8 * small["members"])


def test_a_peer_supporter_weighs_their_share_of_the_real_community(th):
    # 3 supporter posts a day beside 86 real members (HORYZONS) or 5,600 (a Facebook group).
    rates = [0.0118] * 40
    share = {}
    for size in (86.0, 5600.0):
        f = _feed(th, [0] * 40, rates, [0] * 40, size=[size], supporters=[1.0])
        share[size] = 1 - f["member_share"][0]
        expected = th[T.SUPPORTER_POST_RATE] / (size * 0.0118 + th[T.SUPPORTER_POST_RATE])
        assert share[size] == pytest.approx(expected, rel=1e-12)
    assert share[86.0] > 0.5 > 0.05 > share[5600.0]


def test_a_community_s_real_size_changes_what_its_members_meet():
    # Fewer real members: fewer posts to read, so less support (ODD §7.3-7.4): the size is a
    # fact about the world and must matter, unlike the sample's size.
    def belonging(size):
        p = with_overrides(ModelParams(), {"population.size": 1500, "steps": 90, "seed": 3,
                                            "communities.size": size})  # fmt: skip
        m = PeerwellModel(p, agent_views=False)
        m.run_model()
        reads = m.state.scratch["reads"][m.state.cur["community"] >= 0]
        return float(m.state.cur["belonging"].mean()), float(reads.mean())

    b_small, r_small = belonging(20)
    b_large, r_large = belonging(5600)
    assert r_small < 0.5 * r_large  # 20 members write about 0.24 posts a day: reading is capped
    assert b_small < b_large


def _assert_consistent(checks):
    bad = [c for c in checks if not c.consistent]
    vague = [c.outcome for c in checks if not c.informative]
    assert not bad, "\n" + scale.table("inconsistent", checks, ("a", "b"))
    assert not vague, f"tolerance too wide to see the change it must: {vague}"


@pytest.mark.slow
def test_outcomes_do_not_move_with_the_population_size():
    base = with_overrides(ModelParams(), {"steps": 180, "record_every": 180})
    checks = scale.compare(base, {"population.size": 1500}, {"population.size": 12000})
    _assert_consistent(checks)


@pytest.mark.slow
def test_outcomes_do_not_move_when_the_same_communities_are_spread_over_more():
    # 4 or 8 simulated communities of the default real size: one or two of each platform.
    base = with_overrides(ModelParams(), {"steps": 180, "record_every": 180,
                                          "population.size": 6000})  # fmt: skip
    checks = scale.compare(base, {"communities.count": 4}, {"communities.count": 8})
    _assert_consistent(checks)
