"""Submodel switches (``submodels.*``): a submodel that does not run freezes what it writes and
zeroes its flows, the rest runs as usual, and leaving out what a process does not read changes
that process not at all (the classic-model validations rely on it)."""

import math

import numpy as np
import pytest
from util import one_numba_thread, params  # noqa: F401  (fixture: one Numba thread per module)

from peerwell.scenarios.evidence import classic as V
from peerwell.simulation.errors import ConfigError
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import SUBMODELS, Event
from peerwell.simulation.state import DYNAMIC, WRITES

# The flows (st.scratch) each submodel writes: zero every day when it does not run.
FLOWS = {
    "membership": ("joined", "left"),
    "posting": ("posted", "post_misinfo", "post_accurate", "post_aware"),
    "exchange": (
        "reads",
        "support",
        "lam_misinfo",
        "lam_accurate",
        "lam_aware",
        "anti_stigma",
        "hostile",
    ),
    "misinformation": ("adopted", "corrected"),
    "care": ("sought", "entered_care"),
    "intervention": ("enrolled_new",),
    "privacy": ("disclosed_new", "harmed"),
}
BUSY = {  # a population in which every submodel has work to do
    "population__size": 400,
    "steps": 25,
    "seed": 9,
    "communities__intervention_communities": 2,
    "communities__anti_stigma_content": 0.2,
    "population__initial_misinformed_share": 0.2,
    "privacy__disclose_per_post": 0.5,  # disclosures and harms within 25 days
    "privacy__harm_rate": 0.05,
    "roles__burnout": 0.05,  # roles change within 25 days
}


def test_every_submodel_writes_something_or_is_read_by_a_flow():
    assert set(WRITES) == set(SUBMODELS)
    written = [v for names in WRITES.values() for v in names]
    assert sorted(written) == sorted(DYNAMIC), "each day-to-day variable has exactly one writer"


@pytest.mark.parametrize("name", SUBMODELS)
def test_a_submodel_switched_off_freezes_its_variables_and_zeroes_its_flows(name):
    off = PeerwellModel(params(**BUSY, **{f"submodels__{name}": False}), agent_views=False)
    on = PeerwellModel(params(**BUSY), agent_views=False)
    day0 = {k: v.copy() for k, v in off.state.cur.items()}
    feeds0 = {k: v.copy() for k, v in off.state.comm.items()}
    moved = dict.fromkeys(DYNAMIC, False)
    for _ in range(BUSY["steps"]):
        off.step()
        on.step()
        for v in WRITES[name]:
            np.testing.assert_array_equal(off.state.cur[v], day0[v], err_msg=v)
            np.testing.assert_array_equal(off.state.nxt[v], day0[v], err_msg=v)
        for flow in FLOWS.get(name, ()):
            assert not off.state.scratch[flow].any(), flow
        if name == "feed":
            for k in ("volume", "feed_misinfo", "feed_accurate", "feed_aware", "members"):
                np.testing.assert_array_equal(off.state.comm[k], feeds0[k], err_msg=k)
        for k in DYNAMIC:
            moved[k] |= not np.array_equal(on.state.cur[k], day0[k])
    # ...and with it on, the same population moves those variables: the test could fail.
    assert all(moved[v] for v in WRITES[name]), (name, moved)


def test_without_the_exchange_peer_norms_are_ones_own_stigma():
    """Nobody met: the peer-norm term of self-stigma vanishes instead of pulling to zero."""
    p = params(**{**BUSY, "submodels__exchange": False, "stigma__stigma_relaxation": 0.0,
                  "mechanisms__hostility": False, "mechanisms__privacy": False})  # fmt: skip
    m = PeerwellModel(p, agent_views=False)
    s0 = m.state.cur["stigma"].copy()
    m.run_model()
    # No support, no anti-stigma posts read, no hostility or privacy harm, no relaxation, no
    # peers: unchanged.
    np.testing.assert_allclose(m.state.cur["stigma"], s0, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "off", [("feed", "social", "care"), ("membership", "exchange", "wellbeing", "offline")]
)
def test_kernels_with_submodels_off_match_the_reference(off):
    from peerwell.simulation.reference import ReferenceModel

    p = params(**{**BUSY, "population__size": 150, "steps": 12},
               **{f"submodels__{name}": False for name in off})  # fmt: skip
    fast, ref = PeerwellModel(p, agent_views=False), ReferenceModel(p)
    for day in range(p.steps):
        fast.step()
        ref.step()
        slow = ref.to_state()
        for k in DYNAMIC:
            np.testing.assert_allclose(
                fast.state.cur[k], slow.cur[k], rtol=0, atol=1e-9, err_msg=f"{k} day {day + 1}"
            )


def _contagion(overrides: dict, everything: bool, days: int) -> np.ndarray:
    """Daily (S, I, R) counts; ``everything`` puts back every submodel the contagion leaves out."""
    model = V.make_model(V.with_every_submodel(overrides) if everything else overrides)
    V.seed_spreaders(model, 40, seed=3)
    return V.run_contagion(model, days, until_over=False)


@pytest.mark.parametrize(
    "model, k, network",
    [("sis on ties", 0.0, "barabasi_albert"), ("sir in the feed", 3.0, "sbm")],
)
def test_the_contagion_configuration_runs_the_whole_models_belief_dynamics(model, k, network):
    """The validations leave out seven submodels and the support signal: the belief trajectories
    are those of the whole model, to the bit (so the validation still validates the model)."""
    o = V.well_mixed_overrides(600, 5, k=k, adoption=-math.log1p(-0.05), g=-math.log1p(-0.1),
                               renewal=1.0 if model.startswith("sis") else 0.0)  # fmt: skip
    if network != "sbm":
        o.update({"network.kind": network, "network.mean_degree": 8.0})
    assert [n for n in SUBMODELS if not o.get(f"submodels.{n}", True)], "nothing left out"
    lean, whole = _contagion(o, False, 40), _contagion(o, True, 40)
    assert lean[-1, 1] > 0 and lean[:, 1].max() > 40, "the contagion must spread to test anything"
    np.testing.assert_array_equal(lean, whole)


def test_submodels_are_fixed_for_a_run():
    p = params(population__size=50, steps=5)
    p.scenario.events = [Event(day=2, param="submodels.care", value=False)]
    with pytest.raises(ConfigError, match=r"submodels\.care"):
        PeerwellModel(p)
    m = PeerwellModel(params(population__size=50, steps=5))
    with pytest.raises(ConfigError, match=r"submodels\.social"):
        m.set_params({"submodels.social": False})
    assert m.params.submodels.social


def test_the_timer_reports_the_submodels_that_run():
    m = PeerwellModel(
        params(population__size=100, steps=2, submodels__care=False, submodels__feed=False),
        timing=True,
    )
    m.run_model()
    assert set(m.timer.seconds) == set(SUBMODELS) - {"care", "feed"}
