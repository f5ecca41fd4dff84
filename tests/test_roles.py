"""Roles that change (issue 19, item 7; ODD §7.2): lurkers become contributors as belonging grows,
contributors and superusers burn out, and the 90-9-1 shape stays an emergent, tested pattern."""

from __future__ import annotations

import numpy as np
from util import one_numba_thread  # noqa: F401  (autouse: one Numba thread here)

from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import ModelParams, with_overrides

# Everyone online from day 0 and nobody leaves, so every person is a member on the day checked;
# fast role changes, so one day has enough changes to measure each rate.
FAST = {
    "population.size": 40_000, "steps": 2, "seed": 11,
    "population.initial_online_share": 1.0, "entry.leave_rate": 0.0,
    "population.share_contributor": 0.3, "population.share_superuser": 0.1,
    "roles.become_contributor": 0.2, "roles.become_superuser": 0.05, "roles.burnout": 0.1,
}  # fmt: skip


def _within(realised: np.ndarray, p: np.ndarray) -> None:
    """The count of changes is the sum of independent Bernoulli(p_i) draws: within 4 SD."""
    expected, sd = p.sum(), np.sqrt((p * (1 - p)).sum())
    assert abs(realised.sum() - expected) < 4 * sd, (realised.sum(), expected, sd)
    # ...and the interval is tight enough to reject a rule off by a quarter
    assert 4 * sd < 0.25 * expected


def test_one_day_of_role_changes_is_the_odd_s_closed_form():
    p = with_overrides(ModelParams(), FAST)
    m = PeerwellModel(p, agent_views=False)
    m.step()  # a day of hostility first, so hostile_recent differs between people
    st, r = m.state, p.roles
    role0, b0, h0 = (
        st.cur["role"].copy(),
        st.cur["belonging"].copy(),
        st.cur["hostile_recent"].copy(),
    )
    assert (h0 > 0).any()
    m.step()
    role1 = st.cur["role"]
    down = r.burnout * (1 + r.burnout_hostility * h0)
    lurk, contrib, sup = role0 == 0, role0 == 1, role0 == 2
    # Lurkers: up with probability become_contributor * belonging (a wrong rule without the
    # belonging factor would expect about three times as many).
    _within(role1[lurk] == 1, r.become_contributor * b0[lurk])
    # Contributors: up with become_superuser; down with the burnout hazard.
    _within(role1[contrib] == 2, np.full(contrib.sum(), r.become_superuser))
    _within(role1[contrib] == 0, down[contrib])
    # Superusers: down to contributing, never straight to lurking.
    _within(role1[sup] == 1, down[sup])
    assert not (role1[sup] == 0).any()


def test_without_role_change_roles_stay_as_drawn():
    p = with_overrides(ModelParams(), {**FAST, "mechanisms.role_change": False})
    m = PeerwellModel(p, agent_views=False)
    role0 = m.state.cur["role"].copy()
    m.run_model()
    np.testing.assert_array_equal(m.state.cur["role"], role0)


def test_the_90_9_1_shape_is_kept_by_the_flows_over_a_year():
    """Roles change (a contributor burns out in about five years on average, a superuser sooner: hostility), yet after a year the
    shares of van Mierlo 2014 (90/9/1) still hold: the rates balance at the mean belonging
    online, nothing holds the shape fixed."""
    p = with_overrides(ModelParams(), {"population.size": 6000, "steps": 365, "seed": 3})
    m = PeerwellModel(p, agent_views=False)
    role0 = m.state.cur["role"].copy()
    m.run_model()
    role = m.state.cur["role"]
    assert (role != role0).mean() > 0.015  # roles did change
    shares = np.bincount(role, minlength=3) / role.size
    assert abs(shares[1] - 0.09) < 0.025, shares
    assert abs(shares[2] - 0.01) < 0.006, shares


def test_content_shares_class_people_by_what_they_posted():
    """van Mierlo 2014's classes: the top 1% of posters, the next 9%, the rest, whatever their
    role today (a burnt-out superuser's posts stay a superuser's)."""
    from peerwell.simulation.recorder import content_shares

    posts = np.array([0] * 80 + [1] * 9 + [10] * 10 + [100])  # 100 people, 209 posts
    lurkers, contributors, superusers = content_shares(posts)
    assert superusers == 100 / 209  # the one top poster
    assert contributors == (9 * 10) / 209  # the next nine: 10 posts each
    assert lurkers == (10 + 9) / 209  # the tenth 10-post writer and the nine 1-post writers
    assert content_shares(np.zeros(5, dtype=np.int64)) == (0.0, 0.0, 0.0)


def test_content_shares_agree_with_ranking_the_posters():
    """The counting shortcut (no sort) gives the shares a full ranking gives, ties included."""
    from peerwell.simulation.recorder import content_shares

    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 500))
        posts = rng.integers(0, int(rng.integers(1, 50)), n).astype(np.int32)
        online = (rng.random(n) < 0.7).astype(np.int8)
        mine = np.sort(posts[online == 1])[::-1]
        if mine.sum() == 0:
            continue
        k1, k2 = int(np.ceil(0.01 * mine.size)), int(np.ceil(0.10 * mine.size))
        total = mine.sum()
        want = (
            (total - mine[:k2].sum()) / total,
            mine[k1:k2].sum() / total,
            mine[:k1].sum() / total,
        )
        np.testing.assert_allclose(content_shares(posts, online), want, rtol=1e-12)
