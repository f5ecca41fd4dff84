"""The kernels' shortcuts decide as the plain rule does, person by person.

Care-seeking and acute care draw the person's uniform first and evaluate the exponential of
their rule only when the draw falls below a bound the chance cannot exceed (``care_kernel``,
``offline_kernel``). The shortcut must never change an answer: here each kernel runs on a crafted
state (every activation, self-stigma, belief, trust and wellbeing across its range) at the
parameters' defaults and at the ends of their ranges, and every person's decision is compared
with ``u < p``, p computed here from the ODD's rule (§7.8 care, §7.11 acute care) and u the
person's own draw. (A person whose draw lies within 1e-12 of p is left out: there the answer
rests on the last bit of ``exp``, which numpy's and Numba's may round apart.)
"""

from __future__ import annotations

import numpy as np
import pytest
from util import one_numba_thread, params  # noqa: F401  (autouse: one Numba thread here)

from peerwell.simulation import calls as C
from peerwell.simulation import theta as T
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.rng import uniforms

N = 20_000
KEY = np.uint64(0x5EED_CAFE)


def _model(**overrides) -> PeerwellModel:
    p = params(population__size=N, seed=5, steps=1, network__mean_degree=0.0, **overrides)
    return PeerwellModel(p, agent_views=False)


def _agree(decided: np.ndarray, u: np.ndarray, p: np.ndarray, who: np.ndarray) -> None:
    want = (p >= 1.0) | (u < p)
    sharp = np.abs(u - p) > 1e-12
    assert sharp[who].mean() > 0.999
    mismatch = who & sharp & (decided != want)
    assert not mismatch.any(), (
        f"{mismatch.sum()} people decided against the rule, e.g. u={u[mismatch][:3]}, "
        f"p={p[mismatch][:3]}"
    )
    assert want[who].any() and not want[who].all()  # both answers occur: the check can fail


CARE_CASES = [
    {},
    {"care__seek_activation_slope": 0.0},
    {"care__seek_activation_slope": 0.2, "care__seek_rate": 0.0005},
    {"care__seek_stigma_barrier": 0.0, "care__seek_misinfo_barrier": 0.0},
    {"care__seek_stigma_barrier": 1.0, "care__seek_misinfo_barrier": 1.0},
    {"care__peer_encouragement": 0.0, "care__reseek_factor": 0.0},
    {"care__peer_encouragement": 100.0, "care__reseek_factor": 10.0},
    {"care__seek_rate": 0.3},  # a bound above 1: every draw takes the plain path
    {"mechanisms__trust": False, "mechanisms__activation_pathway": False},
]


@pytest.mark.parametrize("case", CARE_CASES, ids=lambda c: ",".join(c) or "defaults")
def test_care_seeking_shortcut_decides_as_the_rule(case):
    m = _model(**case)
    st, th = m.state, m.theta
    rng = np.random.default_rng(1)
    st.cur["care"][:] = rng.choice(np.array([0, 3], dtype=np.int8), N)
    st.cur["activation"][:] = rng.uniform(0.0, 100.0, N)
    st.cur["stigma"][:] = rng.uniform(0.0, 1.0, N)
    st.cur["misinfo"][:] = rng.integers(0, 3, N)
    st.cur["trust"][:] = rng.uniform(0.0, 1.0, N)
    st.scratch["lam_accurate"][:] = rng.exponential(1.0, N) * (rng.random(N) < 0.7)
    x = {k: v.copy() for k, v in st.cur.items()}
    C.care(st, th=th, key=KEY)
    # §7.8: p_seek = ρ_seek·e^(slope·(a-55))·(1-β_s·s)·(1-β_m·[misled])·(1+[act]·γ·L), ×reseek
    # when disengaged; L = 1 - e^(-w·λ_acc), w = trust/trust_mean with the trust mechanism.
    w = x["trust"] / th[T.TRUST_REF] if th[T.SW_TRUST] > 0 else 1.0
    learn = 1.0 - np.exp(-w * st.scratch["lam_accurate"])
    misled = (x["misinfo"] == 1).astype(float)
    p = (
        th[T.SEEK_RATE]
        * np.exp(th[T.SEEK_SLOPE] * (x["activation"] - 55.0))
        * (1.0 - th[T.SEEK_STIGMA] * x["stigma"])
        * (1.0 - th[T.SEEK_MISINFO] * misled)
        * (1.0 + th[T.SW_ACTIVATION] * th[T.PEER_ENCOURAGEMENT] * learn)
    )
    p = np.where(x["care"] == 3, p * th[T.RESEEK_FACTOR], p)
    u = uniforms(KEY, N, 0)
    _agree(st.nxt["care"] == 1, u, p, np.ones(N, dtype=bool))


ACUTE_CASES = [
    {},
    {"acute__wellbeing_effect": 0.0, "acute__vulnerable_ratio": 1.0},
    {"acute__wellbeing_effect": 50.0},
    {"acute__rate": 0.02, "acute__vulnerable_ratio": 100.0},
    {"acute__rate": 0.6},  # a bound above 1: every draw takes the plain path
]


@pytest.mark.parametrize("case", ACUTE_CASES, ids=lambda c: ",".join(c) or "defaults")
def test_acute_care_shortcut_decides_as_the_rule(case):
    m = _model(**case)
    st, th = m.state, m.theta
    rng = np.random.default_rng(2)
    st.cur["wellbeing_mental"][:] = rng.uniform(0.0, 1.0, N)
    st.static["wellbeing_mental0"][:] = rng.uniform(0.0, 1.0, N)
    st.static["vulnerable"][:] = rng.integers(0, 2, N)
    st.cur["acute_visits"][:] = rng.integers(0, 3, N)
    x = {k: v.copy() for k, v in st.cur.items()}
    C.offline(st, th=th, key=KEY)
    # §7.11: p_acute = rate·(vulnerable_ratio if vulnerable)·e^(effect·(w_m0 - w_m))
    ratio = np.where(st.static["vulnerable"] == 1, th[T.ACUTE_VULNERABLE], 1.0)
    p = (
        th[T.ACUTE_RATE]
        * ratio
        * np.exp(th[T.ACUTE_WELLBEING] * (st.static["wellbeing_mental0"] - x["wellbeing_mental"]))
    )
    u = uniforms(KEY, N, 2)
    episode = st.scratch["acute_new"] == 1
    _agree(episode, u, p, np.ones(N, dtype=bool))
    np.testing.assert_array_equal(st.nxt["acute_visits"], x["acute_visits"] + episode)
