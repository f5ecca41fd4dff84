"""The Numba kernels against the readable per-agent reference: same seed, same trajectories.

The two can agree to 1e-9 (and in every yes/no draw) because both compute chances with the same
C library `exp`: Python's `math.exp` and Numba's call it alike on one machine (ODD §4.9). Written
with numpy's vectorised `exp`, whose SIMD path depends on the CPU, a rare draw could flip.
"""

import numpy as np
import pytest
from util import params

from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import Event
from peerwell.simulation.reference import ReferenceModel
from peerwell.simulation.state import DYNAMIC

CASES = {
    "defaults": {},
    "everything_on": {
        "communities__intervention_communities": 2,
        "communities__peer_supporters": 2,
        "communities__anti_stigma_content": 0.2,
        "communities__hostility": 0.3,
        "communities__misinformation_prevalence": 0.2,
        "communities__platforms": ["twitter", "moderated_platform", "youtube"],
        # this round's mechanisms busy within 30 days: disclosures and harms, roles changing,
        # acute care
        "privacy__disclose_per_post": 0.5,
        "privacy__harm_rate": 0.05,
        "roles__burnout": 0.05,
        "roles__become_contributor": 0.05,
        "acute__rate": 0.01,
    },
    "switches_off": {
        "mechanisms__hostility": False,
        "mechanisms__correction": False,
        "mechanisms__activation_pathway": False,
        "mechanisms__trust": False,
        "mechanisms__support_by_content": False,
        "mechanisms__offline_information": False,
        "mechanisms__vulnerability": False,
        "mechanisms__displacement": False,
        "network__kind": "barabasi_albert",
    },
    # a corrected person who renews can be misled again the same day (pure SIS, issue 20)
    "renewal_same_day": {
        "exchange__renewal_same_day": True,
        "exchange__misinfo_renewal": 0.5,
        "communities__misinformation_prevalence": 0.3,
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_kernels_match_reference_every_day(case):
    p = params(population__size=300, steps=30, seed=5, **CASES[case])
    if case == "everything_on":
        p.scenario.events = [
            Event(day=10, param="communities.moderation", value=0.9),
            Event(day=20, param="communities.hostility", value=0.0),
        ]
    fast, ref = PeerwellModel(p), ReferenceModel(p)
    moved = False
    for day in range(p.steps):
        fast.step()
        ref.step()
        slow = ref.to_state()
        for name in DYNAMIC:
            a, b = fast.state.cur[name], slow.cur[name]
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-9, err_msg=f"{name} on day {day + 1}")
        moved |= not np.array_equal(fast.state.cur["community"], fast.state.nxt["community"])
        # the outcomes and today's flows: the reference's own summary, written from ODD §4.11
        summary = ref.summary()
        assert set(summary) == set(fast.summary)
        for key, value in fast.summary.items():
            assert summary[key] == pytest.approx(value, abs=1e-9), f"{key} on day {day + 1}"
    assert moved, "nobody joined or left: the comparison would not exercise membership"


DAY0_CASES = {
    "defaults": {},
    "copula_and_platforms": {
        "population__isolation_use": 0.6,
        "population__vulnerable_isolation": 0.5,
        "population__online_selection": 0.4,
        "communities__count": 5,
        "communities__platforms": ["moderated_platform", "twitter", "forum"],
        "communities__intervention_communities": 2,
        "population__social_media_use_concentration": 0.0,
        "mechanisms__misinformation": False,
    },
}


@pytest.mark.parametrize("case", list(DAY0_CASES))
def test_day0_population_is_the_reference_s_own_and_equal(case):
    """The reference draws its day-0 people and communities itself (ODD §5.1-5.2, not
    ``population.init_state``): every array equal to the bit."""
    from peerwell.simulation.population import init_state
    from peerwell.simulation.reference import day0_state

    p = params(population__size=500, seed=11, **DAY0_CASES[case])
    fast, ref = init_state(p), day0_state(p)
    for part in ("static", "cur", "comm"):
        for name, a in getattr(fast, part).items():
            b = getattr(ref, part)[name]
            if name == "attraction":  # math.exp here, numpy's exp there
                np.testing.assert_allclose(b, a, rtol=1e-15, err_msg=name)
            else:
                np.testing.assert_array_equal(b, a, err_msg=f"{part}.{name}")
