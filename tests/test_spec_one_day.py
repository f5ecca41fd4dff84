"""An independent specification (issue 20, item 5): one day of each submodel against docs/ODD.md.

Each test crafts a state (tens of thousands of people, their states set by hand, with rates
raised so that a day has thousands of events), runs one day of the real model
(``PeerwellModel.step``), and compares the realised transitions with the probabilities the
ODD's written rule gives, person by person, from yesterday's state and the parameters. The
expected probabilities are computed here from the ODD's equations, not from ``kernels.py`` or
``reference.py`` (which is written from the kernels and would agree with a wrong rule).

Every count is checked as a sum of independent Bernoulli(p_i): within 4 SD of Σ p_i, and the
interval must be tight enough that a rate off by a factor 1.2 would fall outside it
(8 SD < 0.2·Σ p_i).

What each test checks, and what was already covered elsewhere (not repeated here):

- §7.1 entry and leaving: joining ρ_join·u; leaving ρ_leave(1 + κ_H·H̃)(1 - β_ret·b)(1 + κ_Z·Z);
  moving a share s_switch of leavers (``test_membership_one_day``).
- §7.2 posting: posting π_role; a health post with η, misleading iff misled yesterday
  (``test_posting_one_day``). Role changes: tests/test_roles.py.
- §7.6 misinformation: online adoption 1 - exp(-α·k·i) on a well-mixed feed, and the renewal
  rule with and without ``exchange.renewal_same_day`` (``test_renewal_one_day``). Offline items
  and trust weighting: tests/test_risks.py; the classic mappings: tests/test_validation.py.
- §7.8 care status: seeking, entering care, completing, disengaging (``test_care_one_day``).
- §7.9 interventions: enrolment ρ_enrol·a/100 and dropout ρ_drop (``test_intervention_one_day``).
- §7.11 employment: found with ε₊·r, lost with ε₋·(1 - r) (``test_employment_one_day``).
  Acute care: tests/test_risks.py.
- Covered elsewhere: §7.5 harm and displacement terms, §7.7 trust/activation/uncertainty,
  §7.12 disclosure and harm (tests/test_risks.py). Not yet covered by a one-day closed form:
  §7.3 feed, §7.4 exchange (support signal, hostile comments), §7.5 belonging/empowerment
  terms other than harm and displacement, §7.10 wellbeing, §7.11 recovery.
"""

from __future__ import annotations

import math

import numpy as np
from util import one_numba_thread, params  # noqa: F401  (autouse: one Numba thread here)

from peerwell.simulation.model import PeerwellModel

N = 40_000
NO_TIES = {"network__mean_degree": 0.0}
OFFLINE = {"population__initial_online_share": 0.0, "mechanisms__entry": False}
# Everyone online in one community for good (nobody leaves unless a test asks).
ONLINE = {
    "population__initial_online_share": 1.0,
    "communities__count": 1,
    "entry__leave_rate": 0.0,
    "mechanisms__entry": False,
}


def _model(**overrides) -> PeerwellModel:
    p = params(population__size=N, seed=13, steps=2, **NO_TIES, **overrides)
    return PeerwellModel(p, agent_views=False, daily_flows=True)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, 0x5BEC])


def _step(m: PeerwellModel):
    """One day; (yesterday's state, today's state, today's flows), copies."""
    before = {k: v.copy() for k, v in m.state.cur.items()}
    m.step()
    after = {k: v.copy() for k, v in m.state.cur.items()}
    flows = {k: v.copy() for k, v in m.state.scratch.items()}
    return before, after, flows


def _within(happened: np.ndarray, p: np.ndarray, what: str, factor: float = 1.2) -> None:
    """Count within 4 SD of Σp, and a rule off by ``factor`` would be outside (8 SD < gap)."""
    p = np.asarray(p, dtype=np.float64)
    count = int(np.count_nonzero(happened))
    expected = float(p.sum())
    sd = math.sqrt(float((p * (1 - p)).sum()))
    assert 8 * sd < (factor - 1) * expected, (
        f"{what}: the interval (SD {sd:.1f} on {expected:.0f}) cannot tell a factor {factor}"
    )
    assert abs(count - expected) <= 4 * sd, (
        f"{what}: {count} events, the ODD's rule gives {expected:.1f} ± {4 * sd:.1f} (4 SD)"
    )


# ---------------------------------------------------------------------------------------------
# §7.8 Care status


def test_care_one_day():
    """p_seek = ρ_seek·e^(β_a(a-55))·(1-β_s·s)·(1-β_m·[m=1])·(×f_re if disengaged) (offline: L = 0);
    seeking → in care with ρ_entry; in care: complete with ρ_comp·r (drawn first), else disengage
    with ρ_dis·(1+κ_m·[m=1])·(1-β_a^dis·a/100) (not enrolled). All states yesterday's."""
    m = _model(**OFFLINE, care__seek_rate=0.25, care__entry_rate=0.25, care__completion_rate=0.4,
               care__disengage_rate=0.3, care__reseek_factor=2.0)  # fmt: skip
    st, rng = m.state.cur, _rng(1)
    st["care"][:] = rng.integers(0, 4, N)
    st["activation"][:] = rng.uniform(30, 80, N)
    st["stigma"][:] = rng.uniform(0, 1, N)
    st["misinfo"][:] = rng.integers(0, 2, N)
    st["recovery"][:] = rng.uniform(0, 1, N)
    st["enrolled"][:] = 0
    c = m.params.care
    x, y, _ = _step(m)
    a, s, misled, r = x["activation"], x["stigma"], x["misinfo"] == 1, x["recovery"]
    seek = (
        c.seek_rate * np.exp(c.seek_activation_slope * (a - 55))
        * (1 - c.seek_stigma_barrier * s) * (1 - c.seek_misinfo_barrier * misled)
    )  # fmt: skip
    for state, factor in ((0, 1.0), (3, c.reseek_factor)):
        w = x["care"] == state
        _within(y["care"][w] == 1, seek[w] * factor, f"seeking from care state {state}")
    w = x["care"] == 1
    _within(y["care"][w] == 2, np.full(w.sum(), c.entry_rate), "entering care")
    w = x["care"] == 2
    comp = c.completion_rate * r
    dis = (
        c.disengage_rate
        * (1 + c.disengage_misinfo * misled)
        * (1 - c.disengage_activation * a / 100)
    )
    _within(y["care"][w] == 0, comp[w], "completing care")
    _within(y["care"][w] == 3, ((1 - comp) * dis)[w], "disengaging (if not completing)")
    assert not np.any(y["care"][x["care"] == 1] == 0)  # seeking goes only to care


# ---------------------------------------------------------------------------------------------
# §7.9 Online interventions


def test_intervention_one_day():
    """A member of a hosting community enrols with ρ_enrol·a/100; an enrolled one drops out with
    ρ_drop; an enrolled person offline leaves the intervention at once."""
    m = _model(**ONLINE, communities__intervention_communities=1, intervention__enrol_rate=0.3,
               intervention__dropout_rate=0.1)  # fmt: skip
    st, rng = m.state.cur, _rng(2)
    st["activation"][:] = rng.uniform(10, 90, N)
    st["enrolled"][:] = rng.integers(0, 2, N)
    assert (st["community"] == 0).all()
    iv = m.params.intervention
    x, y, _ = _step(m)
    w = x["enrolled"] == 0
    _within(y["enrolled"][w] == 1, iv.enrol_rate * x["activation"][w] / 100, "enrolment")
    w = x["enrolled"] == 1
    _within(y["enrolled"][w] == 0, np.full(w.sum(), iv.dropout_rate), "dropout")


# ---------------------------------------------------------------------------------------------
# §7.11 Employment


def test_employment_one_day():
    """Without work: found with ε₊·r; with it: lost with ε₋·(1 - r) (yesterday's recovery;
    offline, so no privacy harm)."""
    m = _model(**OFFLINE, offline__employment_gain=0.2, offline__employment_loss=0.2)
    st, rng = m.state.cur, _rng(3)
    st["employed"][:] = rng.integers(0, 2, N)
    st["recovery"][:] = rng.uniform(0, 1, N)
    o = m.params.offline
    x, y, _ = _step(m)
    r = x["recovery"]
    w = x["employed"] == 0
    _within(y["employed"][w] == 1, o.employment_gain * r[w], "finding work")
    w = x["employed"] == 1
    _within(y["employed"][w] == 0, o.employment_loss * (1 - r[w]), "losing work")


# ---------------------------------------------------------------------------------------------
# §7.2 Posting


def test_posting_one_day():
    """A member posts with their role's π; a post carries health information with η, misleading
    if the poster was misled yesterday, accurate otherwise. Roles fixed (role changes are
    tests/test_roles.py's)."""
    m = _model(**ONLINE, mechanisms__role_change=False, population__post_rate_lurker=0.2,
               population__post_rate_contributor=0.3, population__post_rate_superuser=0.6,
               exchange__health_post_share=0.4)  # fmt: skip
    st, rng = m.state.cur, _rng(4)
    pop = m.params.population
    rates = np.array([pop.post_rate_lurker, pop.post_rate_contributor, pop.post_rate_superuser])
    st["role"][:] = rng.integers(0, 3, N)
    st["misinfo"][:] = rng.integers(0, 3, N)
    eta = m.params.exchange.health_post_share
    x, _, f = _step(m)
    for role in range(3):
        w = x["role"] == role
        _within(f["posted"][w] == 1, np.full(w.sum(), rates[role]), f"posting, role {role}")
    posted = f["posted"] == 1
    misled = x["misinfo"] == 1
    w = posted & misled
    _within(f["post_misinfo"][w] == 1, np.full(w.sum(), eta), "misleading health posts")
    w = posted & ~misled
    _within(f["post_accurate"][w] == 1, np.full(w.sum(), eta), "accurate health posts")
    assert not f["post_misinfo"][~misled].any() and not f["post_accurate"][misled].any()
    assert not (f["post_misinfo"] | f["post_accurate"])[~posted].any()


# ---------------------------------------------------------------------------------------------
# §7.1 Entry and leaving


def test_membership_one_day():
    """Offline: join with σ_entry·ρ_join·u. Online: leave with
    ρ_leave(1 + κ_H·H̃)(1 - β_ret·b)(1 + σ_priv·κ_Z·Z); a share s_switch of leavers move (one
    community: nowhere to move, so every leaver goes offline)."""
    m = _model(population__initial_online_share=0.5, communities__count=1, entry__join_rate=0.3,
               entry__leave_rate=0.2, entry__leave_after_hostility=1.0, privacy__harm_leave=1.0,
               entry__switch_share=0.5)  # fmt: skip
    st, rng = m.state.cur, _rng(5)
    m.state.static["use"][:] = rng.uniform(0, 1, N)
    st["hostile_recent"][:] = rng.uniform(0, 1, N)
    st["belonging"][:] = rng.uniform(0, 1, N)
    st["privacy_harm"][:] = rng.integers(0, 2, N)
    e = m.params.entry
    x, y, f = _step(m)
    off = x["community"] < 0
    _within(y["community"][off] >= 0, e.join_rate * m.state.static["use"][off], "joining")
    on = ~off
    leave = (
        e.leave_rate * (1 + e.leave_after_hostility * x["hostile_recent"])
        * (1 - e.belonging_retention * x["belonging"])
        * (1 + m.params.privacy.harm_leave * x["privacy_harm"])
    )  # fmt: skip
    _within(y["community"][on] < 0, leave[on], "leaving")
    assert (f["left"][on] == (y["community"][on] < 0)).all()


def test_moving_one_day():
    """With two open communities a leaver moves to the other with s_switch (and is counted as
    leaving one and joining the other), else goes offline."""
    m = _model(**{**ONLINE, "communities__count": 2, "entry__leave_rate": 0.5}, entry__switch_share=0.3,
               entry__leave_after_hostility=0.0, entry__belonging_retention=0.0)  # fmt: skip
    e = m.params.entry
    x, y, f = _step(m)
    left = f["left"] == 1
    _within(left, np.full(N, e.leave_rate), "leaving")
    moved = left & (y["community"] >= 0)
    _within(moved[left], np.full(left.sum(), e.switch_share), "moving among leavers", 1.2)
    assert (y["community"][moved] != x["community"][moved]).all()
    assert (f["joined"][moved] == 1).all()


# ---------------------------------------------------------------------------------------------
# §7.6 Renewal, with and without the same-day rule


def test_renewal_one_day():
    """Corrected people renew with ν. By default the renewal day is sat out (2 → 0, never 2 → 1
    in a day); with ``exchange.renewal_same_day`` a renewed person faces the day's adoption
    hazard H (here only items met offline, H = β_mis·I_mis): 2 → 1 with ν(1 - e^-H), 2 → 0 with
    ν·e^-H."""
    for same_day in (False, True):
        m = _model(**OFFLINE, exchange__misinfo_renewal=0.5, exchange__renewal_same_day=same_day,
                   information__offline_misinfo=2.0)  # fmt: skip
        m.state.cur["misinfo"][:] = 2
        i = m.params.information
        nu, hazard = m.params.exchange.misinfo_renewal, i.misinfo_effect * i.offline_misinfo
        _, y, f = _step(m)
        if same_day:
            _within(y["misinfo"] == 1, np.full(N, nu * -math.expm1(-hazard)), "renewed and misled")
            _within(y["misinfo"] == 0, np.full(N, nu * math.exp(-hazard)), "renewed, not misled")
            assert (f["adopted"] == (y["misinfo"] == 1)).all()
        else:
            assert not (y["misinfo"] == 1).any()
            _within(y["misinfo"] == 0, np.full(N, nu), "renewed")
