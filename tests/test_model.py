"""The Mesa face of the model: agent views read the arrays, reporters, recording interval."""

import numpy as np
import pytest
from util import params

from peerwell.simulation.loop import EXPOSURE_READERS
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import CARE_STATES


def test_agent_views_show_the_array_values():
    m = PeerwellModel(params(population__size=200, steps=10))
    m.run_model()
    assert len(m.agents) == 200
    x = m.state.cur
    for agent in list(m.agents)[::17]:
        i = agent.index
        assert agent.activation == x["activation"][i]
        assert agent.self_stigma == x["stigma"][i]
        assert agent.care_status == CARE_STATES[x["care"][i]]
        assert agent.online == (x["community"][i] >= 0)
        assert 1 <= agent.pam_level <= 4
        assert agent.as_dict()["index"] == i


def test_large_populations_make_views_on_demand():
    m = PeerwellModel(params(population__size=300, steps=1), agent_views=False)
    assert len(m.agents) == 0
    v = m.person(42)
    assert v.activation == m.state.cur["activation"][42]
    with pytest.raises(IndexError):
        m.person(300)


def test_record_every_and_the_last_day_are_recorded():
    m = PeerwellModel(params(population__size=200, steps=25, record_every=10))
    m.run_model()
    assert list(m.trajectories()["step"]) == [0, 10, 20, 25]


def test_pam_levels_use_hibbard_cut_points():
    m = PeerwellModel(params(population__size=200, steps=0))
    a = m.state.cur["activation"]
    a[:4] = [47.0, 47.1, 55.2, 67.1]
    assert [m.person(i).pam_level for i in range(4)] == [1, 2, 3, 4]
    shares = [m.summary[f"pam_level{k}_share"] for k in range(1, 5)]
    assert sum(shares) == pytest.approx(1.0)


def test_step_timer_reports_every_mechanism():
    m = PeerwellModel(params(population__size=200, steps=3), timing=True)
    m.run_model()
    assert set(m.timer.seconds) == {
        "membership", "posting", "feed", "exchange", "privacy", "social", "misinformation",
        "activation", "care", "intervention", "wellbeing", "offline",
    }  # fmt: skip
    assert all(v >= 0 for v in m.timer.seconds.values())


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"submodels__posting": False},  # the exchange packs its own tags
        {"submodels__exchange": False},  # beliefs without exposures, in their own pass
        {"communities__misinformation_prevalence": 0.3, "communities__hostility": 0.4},
    ],
)
def test_timed_days_give_the_untimed_results(overrides):
    """Untimed days write the tags in the posting pass and update beliefs in the exchange's pass;
    timed days run every submodel as a pass of its own. Same draws, so the same results."""

    def final(timing):
        m = PeerwellModel(
            params(population__size=400, steps=15, seed=5, **overrides),
            agent_views=False,
            timing=timing,
        )
        m.run_model()
        return m.trajectories(), {k: v.copy() for k, v in m.state.cur.items()}

    (t_fused, x_fused), (t_apart, x_apart) = final(False), final(True)
    assert t_fused.equals(t_apart)
    assert t_fused["misinformation_belief_mean"].nunique() > 1  # beliefs moved: it can fail
    for name in x_fused:
        np.testing.assert_array_equal(x_fused[name], x_apart[name], err_msg=name)


# The submodels the fused belief update can run without: none of them reads an exposure.
NO_EXPOSURE_READER = {f"submodels__{name}": False for name in EXPOSURE_READERS}


@pytest.mark.parametrize(
    "extra",
    [
        {},  # peers' accurate posts and stifling correct the misled: they gather too
        {"exchange__correction_peer": 0.0, "exchange__stifling": 0.0},  # only the unaware gather
        *({f"submodels__{name}": True} for name in EXPOSURE_READERS),  # flows read: none skipped
    ],
)
def test_unread_flows_are_skipped_without_changing_any_result(extra):
    """On unrecorded days the exchange computes only what the belief update reads, unless a
    submodel that reads the flows runs (EXPOSURE_READERS). States and trajectories stay the same
    to the bit; the flows are complete on every recorded day."""
    p = params(
        population__size=400, steps=20, record_every=6, seed=5,
        communities__misinformation_prevalence=0.3, **{**NO_EXPOSURE_READER, **extra},
    )  # fmt: skip
    lean, full = PeerwellModel(p, agent_views=False), PeerwellModel(p, daily_flows=True)
    skipped = False
    for day in range(1, p.steps + 1):
        lean.step()
        full.step()
        for name in full.state.cur:
            np.testing.assert_array_equal(lean.state.cur[name], full.state.cur[name], name)
        same_flows = all(
            np.array_equal(lean.state.scratch[k], full.state.scratch[k]) for k in full.state.scratch
        )
        assert same_flows or not (day % p.record_every == 0 or day == p.steps), day
        skipped |= not same_flows
    assert lean.trajectories().equals(full.trajectories())
    assert lean.trajectories()["misinformation_belief_mean"].nunique() > 1  # beliefs moved
    reader_runs = any(extra.get(f"submodels__{name}") for name in EXPOSURE_READERS)
    assert skipped != reader_runs


def test_zero_steps_and_one_person_run():
    m = PeerwellModel(params(population__size=1, communities__count=1, steps=5))
    m.run_model()
    df = m.trajectories()
    assert len(df) == 6 and np.isfinite(df.drop(columns=["step"]).to_numpy()).all()


def test_set_params_changes_live_parameters_and_refuses_structural_ones():
    from peerwell.simulation.errors import ConfigError

    m = PeerwellModel(params(population__size=300, steps=20))
    m.step()
    m.set_params({"communities.moderation": 0.9})
    assert m.params.communities.moderation == 0.9
    assert (m.state.comm["moderation"] >= 0.9).all()
    with pytest.raises(ConfigError, match="cannot change"):
        m.set_params({"communities.count": 3})
    with pytest.raises(ConfigError):
        m.set_params({"communities.hostility": 2.0})
    assert m.params.communities.hostility == 0.04  # a refused change changes nothing
