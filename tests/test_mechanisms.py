"""Each mechanism of the conceptual model pushes its outcome the way Naslund et al. (2016) say,
and switching it off removes the effect.

Paired replicates on common random numbers: replicate r of "on" and "off" share every random draw
the switch does not change, so the paired difference is the mechanism's effect, not noise. Each
test asserts the direction in every replicate and that the mean difference is several standard
errors from zero.
"""

import numpy as np
import pytest
from util import horizon, params, run

from peerwell.simulation.params import with_overrides

SEEDS = [11, 12, 13, 14]
BASE = {"population__size": 1500, "steps": 150}

# switch -> (extra settings that give the mechanism something to act on, [(outcome, sign of on - off)])
EXPECTED = {
    "entry": ({}, [("online_share", +1), ("belonging_mean", +1)]),
    "peer_support": (
        {},
        [("belonging_mean", +1), ("wellbeing_mental_mean", +1), ("empowerment_mean", +1)],
    ),
    "stigma_pathway": ({}, [("self_stigma_mean", -1), ("empowerment_mean", +1)]),
    "activation_pathway": ({}, [("activation_mean", +1), ("care_seeking_share", +1)]),
    "intervention_pathway": (
        {"communities__intervention_communities": 3},
        [("wellbeing_physical_mean", +1), ("enrolled_share", +1)],
    ),
    "misinformation": (
        {},
        [("belief_accuracy_mean", -1), ("care_seeking_share", -1), ("uncertainty_mean", +1)],
    ),
    "correction": ({}, [("misinformation_belief_mean", -1)]),
    "hostility": ({}, [("self_stigma_mean", +1), ("belonging_mean", -1), ("online_share", -1)]),
    "uncertainty": ({}, [("uncertainty_mean", +1), ("activation_mean", -1)]),
    # Recovery integrates slowly (recovery_rate 0.01/day): give it most of a year.
    "offline_translation": ({"steps": 300}, [("recovery_mean", +1)]),
}


def paired(on, off, outcome):
    a = horizon(on, SEEDS, outcome)
    b = horizon(off, SEEDS, outcome)
    return a - b


@pytest.mark.parametrize("switch", list(EXPECTED))
def test_switching_a_mechanism_off_moves_its_outcomes_the_papers_way(switch):
    extra, expectations = EXPECTED[switch]
    on = params(**{**BASE, **extra})
    off = with_overrides(on, {f"mechanisms.{switch}": False})
    for outcome, sign in expectations:
        d = paired(on, off, outcome) * sign
        assert (d > 0).all(), f"{switch} off: {outcome} paired differences {d * sign}"
        se = d.std(ddof=1) / np.sqrt(len(d))
        assert d.mean() > 3 * se, (
            f"{switch}: {outcome} effect {d.mean():.4g} not 3 SE ({se:.3g}) from 0"
        )


# A switched-off mechanism makes the parameters that drive it irrelevant: results are identical
# to the bit, because every other draw is shared (common random numbers).
IRRELEVANT = {
    "hostility": {
        "communities.hostility": 0.5,
        "exchange.psychosis_hostility": 3.0,
        "entry.attract_hostility": 50.0,
    },
    "misinformation": {
        "communities.misinformation_prevalence": 0.5,
        "exchange.misinfo_adoption": 0.5,
    },
    "intervention_pathway": {
        "communities.intervention_communities": 3,
        "intervention.physical_effect": 0.5,
    },
    "stigma_pathway": {"stigma.stigma_reduction": 0.5, "communities.anti_stigma_content": 0.5},
    "activation_pathway": {"activation.learning_gain": 0.5, "care.peer_encouragement": 10.0},
    "entry": {
        "entry.join_rate": 0.5
    },  # (home_bias also places people at day 0, so it stays relevant)
}


@pytest.mark.parametrize("switch", list(IRRELEVANT))
def test_switched_off_mechanism_ignores_its_parameters(switch):
    off = params(population__size=600, steps=60, **{f"mechanisms__{switch}": False})
    changed = with_overrides(off, IRRELEVANT[switch])
    a, b = run(off).trajectories(), run(changed).trajectories()
    assert a.drop(columns=[c for c in a if c.startswith("flow_")]).equals(
        b.drop(columns=[c for c in b if c.startswith("flow_")])
    )
    on = with_overrides(changed, {f"mechanisms.{switch}": True})
    assert not run(on).trajectories().equals(a), (
        "the parameters should matter when the switch is on"
    )


def test_offline_only_has_no_online_exchange():
    p = params(
        population__size=800,
        steps=60,
        population__initial_online_share=0.0,
        mechanisms__entry=False,
    )
    df = run(p).trajectories()
    assert (df["online_share"] == 0).all()
    for flow in (
        "flow_posts",
        "flow_support",
        "flow_hostile",
        "flow_misinfo_exposure",
        "flow_disclosures",
    ):
        assert (df[flow] == 0).all(), flow
    # belonging rests at offline connectedness; beliefs still move with what is met offline
    assert (df["belonging_mean"] == df["belonging_mean"].iloc[0]).all()
    assert df["belonging_mean"].iloc[0] > 0.2
    assert df["flow_misinfo_adopted"].sum() > 0


def test_moderation_lowers_hostility_and_misinformation():
    low = params(**BASE, communities__moderation=0.0)
    high = with_overrides(low, {"communities.moderation": 0.9})
    d_stigma = paired(high, low, "self_stigma_mean")
    d_mis = paired(high, low, "misinformation_belief_mean")
    assert (d_stigma < 0).all() and (d_mis < 0).all()


def test_events_fire_on_their_day():
    from peerwell.simulation.model import PeerwellModel
    from peerwell.simulation.params import Event

    p = params(population__size=400, steps=40)
    p.scenario.events = [Event(day=20, param="communities.hostility", value=0.9)]
    m = PeerwellModel(p)
    m.run_model()
    assert m.events_fired == [(20, "communities.hostility", 0.9)]
    df = m.trajectories().set_index("step")
    assert df.loc[1:20, "flow_hostile"].mean() * 3 < df.loc[21:40, "flow_hostile"].mean()
