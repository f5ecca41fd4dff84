"""Invariants under random valid configs (hypothesis): states in range, no NaN, people conserved."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import MECHANISMS, PLATFORMS, ModelParams, with_overrides

unit = st.floats(0.0, 1.0, allow_nan=False)

configs = st.fixed_dictionaries(
    {
        "population.size": st.integers(1, 250),
        "steps": st.integers(1, 25),
        "seed": st.integers(0, 2**63 - 1),
        "communities.count": st.integers(1, 8),
        "communities.moderation": unit,
        "communities.hostility": unit,
        "communities.misinformation_prevalence": unit,
        "communities.peer_supporters": st.integers(0, 5),
        "communities.anti_stigma_content": unit,
        "communities.platforms": st.lists(st.sampled_from(PLATFORMS), min_size=1, max_size=4),
        "population.initial_online_share": unit,
        "population.initial_misinformed_share": unit,
        "population.share_superuser": st.floats(0.0, 0.5),
        "population.post_rate_superuser": unit,
        "entry.join_rate": unit,
        "entry.leave_rate": unit,
        "exchange.read_rate": st.floats(0.0, 200.0),
        "exchange.misinfo_adoption": unit,
        "stigma.hostility_stigma_gain": unit,
        "stigma.belonging_gain": unit,
        "activation.learning_gain": unit,
        "care.seek_rate": unit,
        "care.peer_encouragement": st.floats(0.0, 100.0),
        "network.kind": st.sampled_from(["sbm", "barabasi_albert", "watts_strogatz", "complete"]),
        "network.mean_degree": st.floats(0.0, 20.0),
        **{f"mechanisms.{m}": st.booleans() for m in MECHANISMS},
    }
)

RANGES = {
    "belonging": (0, 1),
    "empowerment": (0, 1),
    "stigma": (0, 1),
    "uncertainty": (0, 1),
    "activation": (0, 100),
    "wellbeing_mental": (0, 1),
    "wellbeing_physical": (0, 1),
    "recovery": (0, 1),
    "misinfo": (0, 2),
    "care": (0, 3),
    "enrolled": (0, 1),
    "employed": (0, 1),
    "ever_online": (0, 1),
    "ever_posted": (0, 1),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_states_stay_in_range_and_people_are_conserved(cfg):
    n = cfg["population.size"]
    cfg["communities.count"] = min(cfg["communities.count"], n)
    cfg["communities.intervention_communities"] = cfg["communities.count"] // 2
    cfg["network.mean_degree"] = min(cfg["network.mean_degree"], n - 1)
    m = PeerwellModel(with_overrides(ModelParams(), cfg))
    c = cfg["communities.count"]
    for _ in range(cfg["steps"]):
        m.step()
        x = m.state.cur
        for name, (lo, hi) in RANGES.items():
            a = x[name]
            assert len(a) == n, name
            assert np.isfinite(a).all(), name
            assert a.min() >= lo and a.max() <= hi, (name, a.min(), a.max())
        assert ((x["community"] >= -1) & (x["community"] < c)).all()
        assert (x["hostile_recent"] >= 0).all() and (x["posts"] >= 0).all()
        assert m.state.comm["members"].sum() == (x["community"] >= 0).sum()
        for key, value in m.summary.items():
            assert np.isfinite(value), key
            if key.endswith("_share"):
                assert 0.0 <= value <= 1.0, (key, value)
