"""Support is counted by content, not volume (issue 19, item 4; ODD §7.4): misleading and hostile
content read, and misleading tie posts, support nobody."""

from __future__ import annotations

import numpy as np
import pytest
from util import one_numba_thread  # noqa: F401  (autouse: one Numba thread here)

from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import ModelParams, with_overrides

# No ties: a member's support comes from the feed read and their own post only.
NO_TIES = {"population.size": 3000, "steps": 3, "seed": 4, "network.mean_degree": 0.0,
           "communities.misinformation_prevalence": 0.3, "communities.hostility": 0.3}  # fmt: skip


def test_one_day_of_support_is_the_odd_s_closed_form():
    p = with_overrides(ModelParams(), NO_TIES)
    m = PeerwellModel(p, agent_views=False, daily_flows=True)
    m.step()
    st, e = m.state, p.exchange
    c = st.cur["community"]
    on = c >= 0
    k = c[on]
    q = 1 - st.comm["moderation"][k] * e.moderation_efficacy
    eta = st.comm["hostility"][k] * q * e.hostile_per_read * st.comm["member_share"][k]
    clean = np.maximum(0.0, 1.0 - st.comm["feed_misinfo"][k] - eta)
    r, x = st.scratch["reads"][on], st.scratch["posted"][on]
    expected = 1 - np.exp(-e.support_per_post * (r * clean + 2.0 * x))
    np.testing.assert_allclose(st.scratch["support"][on], expected, rtol=1e-12, atol=1e-15)
    assert (clean < 0.9).all()  # the case means something: a tenth or more of reads is not support


# Hostile comments met per post read are few (exchange.hostile_per_read = 0.05 at full
# hostility), so hostility takes about 2% of what is read; misleading content half of it at 0.5.
@pytest.mark.parametrize(
    ("param", "value", "at_most"),
    [("communities.misinformation_prevalence", 0.5, 0.9), ("communities.hostility", 0.5, 0.99)],
)
def test_more_misleading_or_hostile_content_means_less_support(param, value, at_most):
    base = with_overrides(ModelParams(), {**NO_TIES, param: 0.0})
    more = with_overrides(base, {param: value})
    s = []
    for p in (base, more):
        m = PeerwellModel(p, agent_views=False, daily_flows=True)
        m.step()
        on = m.state.cur["community"] >= 0
        s.append(float(m.state.scratch["support"][on].mean()))
    # before issue 19 support counted posts whatever they said: the two were equal
    assert s[1] < at_most * s[0], s


def test_without_the_switch_every_post_read_supports():
    """mechanisms.support_by_content=false (the no_support_by_content ablation) restores the rule
    before issue 19: S = 1 - exp(-γ·(tie posts + posts read + 2·[posted])), whatever they say."""
    p = with_overrides(ModelParams(), {**NO_TIES, "mechanisms.support_by_content": False})
    m = PeerwellModel(p, agent_views=False, daily_flows=True)
    m.step()
    st, e = m.state, p.exchange
    on = st.cur["community"] >= 0
    r, x = st.scratch["reads"][on], st.scratch["posted"][on]
    expected = 1 - np.exp(-e.support_per_post * (r + 2.0 * x))
    np.testing.assert_allclose(st.scratch["support"][on], expected, rtol=1e-12, atol=1e-15)
