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
- §7.3 feed: volume, misleading share with moderation (and the moderated platform's floor) and
  external prevalence, accurate share with supporters, member share (``test_feed_one_day``).
- §7.4 exchange: reads, the support signal by content over ties and feed, the exposures λ, the
  anti-stigma posts read, the peer norm (``test_exchange_support_and_exposures_one_day``) and
  hostile comments 1 - e^-λ^H by diagnosis (``test_hostile_comments_one_day``).
- §7.5 belonging, empowerment, self-stigma and the memory of hostility, every term at once
  (``test_social_one_day``); §7.7 uncertainty, activation, trust (``test_activation_one_day``);
  §7.10 wellbeing (``test_wellbeing_one_day``); §7.11 recovery (``test_recovery_one_day``).
  These rules are deterministic given yesterday's state and today's flows: each is compared
  person by person to 1e-9, and ``_exact`` checks that each coefficient ×1.2 would miss.
- Covered elsewhere: §7.5 harm and displacement in isolation, §7.7 trust weighting, §7.12
  disclosure and harm (tests/test_risks.py); §5 initialisation: tests/test_spec_day0.py.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from util import one_day, one_numba_thread, params  # noqa: F401  (autouse: one Numba thread here)

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
    p = params(population__size=N, seed=13, steps=2, **{**NO_TIES, **overrides})
    return PeerwellModel(p, agent_views=False, daily_flows=True)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, 0x5BEC])


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
    x, y, _ = one_day(m)
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
    x, y, _ = one_day(m)
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
    x, y, _ = one_day(m)
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
    x, _, f = one_day(m)
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
    x, y, f = one_day(m)
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
    x, y, f = one_day(m)
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
        _, y, f = one_day(m)
        if same_day:
            _within(y["misinfo"] == 1, np.full(N, nu * -math.expm1(-hazard)), "renewed and misled")
            _within(y["misinfo"] == 0, np.full(N, nu * math.exp(-hazard)), "renewed, not misled")
            assert (f["adopted"] == (y["misinfo"] == 1)).all()
        else:
            assert not (y["misinfo"] == 1).any()
            _within(y["misinfo"] == 0, np.full(N, nu), "renewed")


# ---------------------------------------------------------------------------------------------
# A busy day for the deterministic rules (§7.3–§7.5, §7.7, §7.10, §7.11): four communities on
# four platforms (one moderated, with its floor), ties, most people online, every state drawn at
# random, hostility, anti-stigma content and disclosure harms raised so that every term is at
# work for thousands of people.

PLATFORMS = ["facebook_group", "moderated_platform", "twitter", "forum"]
# ODD §8, fixed constants: the platform multipliers on hostility and the moderation floors.
HOSTILITY_MULTIPLIER = {
    "facebook_group": 1.0,
    "moderated_platform": 0.5,
    "twitter": 1.6,
    "forum": 0.8,
}
MODERATION_FLOOR = {"facebook_group": 0.0, "moderated_platform": 0.8, "twitter": 0.0, "forum": 0.0}


def _exact(actual, rule, coeffs: dict, what: str, tol: float = 1e-9) -> None:
    """A deterministic update: ``actual`` equals ``rule(**coeffs)`` (the ODD's equation) to
    ``tol`` for every person, and the check has teeth: each coefficient ×1.2 would miss it."""
    expected = rule(**coeffs)
    err = np.abs(np.asarray(actual, dtype=np.float64) - expected)
    worst = int(np.argmax(err))
    assert err[worst] <= tol, (
        f"{what}: person {worst} has {actual[worst]!r}, the ODD's rule gives {expected[worst]!r}"
    )
    for name, value in coeffs.items():
        wrong = rule(**{**coeffs, name: value * 1.2})
        assert np.abs(wrong - actual).max() > 1e3 * tol, f"{what}: {name} ×1.2 would pass"


@functools.lru_cache(maxsize=1)
def _busy_day():
    """(model, yesterday, today, flows) of one crafted day; computed once for the tests below."""
    m = _model(population__initial_online_share=0.8, mechanisms__entry=False, entry__leave_rate=0.0,
               mechanisms__role_change=False, network__mean_degree=8.0, communities__count=4,
               communities__platforms=PLATFORMS, communities__moderation=0.3,
               communities__hostility=0.3, communities__misinformation_prevalence=0.1,
               communities__peer_supporters=4, communities__anti_stigma_content=0.05,
               communities__size=2000, exchange__hostile_per_read=0.1, exchange__support_per_post=0.3,
               privacy__harm_rate=0.2, communities__intervention_communities=2)  # fmt: skip
    st, s, rng = m.state.cur, m.state.static, _rng(7)
    for name in ("belonging", "empowerment", "stigma", "uncertainty", "wellbeing_mental",
                 "wellbeing_physical", "recovery", "trust"):  # fmt: skip
        st[name][:] = rng.uniform(0, 1, N)
    st["hostile_recent"][:] = rng.uniform(0, 3, N)
    st["activation"][:] = rng.uniform(0, 100, N)
    st["misinfo"][:] = rng.integers(0, 3, N)
    st["care"][:] = rng.integers(0, 4, N)
    st["role"][:] = rng.integers(0, 3, N)
    online = st["community"] >= 0
    st["enrolled"][:] = rng.integers(0, 2, N) * (st["community"] < 2) * online
    st["disclosed"][:] = rng.integers(0, 2, N) * online
    s["use"][:] = rng.uniform(0, 1, N)
    s["vulnerable"][:] = rng.integers(0, 2, N)
    s["belonging_offline"][:] = rng.uniform(0, 1, N)
    before, after, flows = one_day(m)
    return m, before, after, flows


def _odd_feed(m, x, y):
    """ODD §7.3 from the members of today (``y``'s communities), yesterday's beliefs and roles
    (``x``) and the parameters: per community P, V, f_mis, f_acc, f_aware, m, μ, h, q."""
    p, c, ex = m.params, m.params.communities, m.params.exchange
    pop = p.population
    rate = np.array([pop.post_rate_lurker, pop.post_rate_contributor, pop.post_rate_superuser])
    rho = rate[x["role"]]
    k, K = y["community"], c.count
    n_k = np.bincount(k[k >= 0], minlength=K).astype(float)
    on = k >= 0
    scale = np.where(n_k > 0, c.size / np.maximum(n_k, 1), 0.0)
    total = lambda w: np.bincount(k[on], weights=w[on], minlength=K)  # noqa: E731
    misled = (x["misinfo"] == 1) * float(p.mechanisms.misinformation)
    P = scale * total(rho)
    M = scale * ex.health_post_share * total(rho * misled)
    A = scale * ex.health_post_share * total(rho * (1 - misled))
    W = scale * total(rho * (x["misinfo"] >= 1))
    v_sup = np.where(n_k > 0, c.peer_supporters * ex.supporter_post_rate, 0.0)
    V = P + v_sup
    kinds = [c.platforms[i % len(c.platforms)] for i in range(K)]
    mu = np.maximum(c.moderation, [MODERATION_FLOOR[kd] for kd in kinds])
    h = np.minimum(c.hostility * np.array([HOSTILITY_MULTIPLIER[kd] for kd in kinds]), 1.0)
    q = 1 - mu * ex.moderation_efficacy
    phi = float(p.mechanisms.misinformation) * c.misinformation_prevalence
    safe = np.where(V > 0, V, 1.0)
    return {
        "P": P, "V": V, "v_sup": v_sup, "mu": mu, "h": h, "q": q, "n": n_k,
        "f_mis": np.where(V > 0, q * (phi * P + (1 - phi) * M) / safe, 0.0),
        "f_acc": np.where(V > 0, ((1 - phi) * A + ex.health_post_share * v_sup) / safe, 0.0),
        "f_aware": np.where(V > 0, W / safe, 0.0),
        "m": np.where(V > 0, P / safe, 0.0),
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------
# §7.3 Community feed


def test_feed_one_day():
    """§7.3: P_k = S_k/N_k·Σρ_j, V_k = P_k + n_sup·π_sup; f_mis = q_k(φP_k + (1-φ)M_k)/V_k with
    q_k = 1 - μ_k·ε (μ_k floored at 0.8 on the moderated platform, §5.2: moderation removes
    misleading posts, external ones with φ included, and does not shrink the volume);
    f_acc = ((1-φ)A_k + η·V_sup)/V_k; m_k = P_k/V_k; f_aware = W_k/V_k. (The scale invariance
    and one hand computation without moderation or prevalence: tests/test_scale_consistency.py.)"""
    m, x, y, _ = _busy_day()
    c, ex = m.params.communities, m.params.exchange
    f = _odd_feed(m, x, y)
    comm = m.state.comm
    np.testing.assert_array_equal(comm["members"], f["n"])
    np.testing.assert_allclose(comm["moderation"], f["mu"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(comm["hostility"], f["h"], rtol=0, atol=1e-12)
    assert comm["moderation"][1] == 0.8 and c.moderation < 0.8  # the floor is at work

    def rule(what, eps, phi, eta, pi_sup):
        K = c.count
        n_k = f["n"]
        scale = np.where(n_k > 0, c.size / np.maximum(n_k, 1), 0.0)
        pop = m.params.population
        rate = np.array([pop.post_rate_lurker, pop.post_rate_contributor, pop.post_rate_superuser])
        rho, k = rate[x["role"]], y["community"]
        on = k >= 0
        total = lambda w: np.bincount(k[on], weights=w[on], minlength=K)  # noqa: E731
        misled = x["misinfo"] == 1
        P = scale * total(rho)
        M, A = scale * eta * total(rho * misled), scale * eta * total(rho * ~misled)
        v_sup = c.peer_supporters * pi_sup
        V = P + v_sup
        q = 1 - f["mu"] * eps
        return {
            "volume": V, "feed_misinfo": q * (phi * P + (1 - phi) * M) / V,
            "feed_accurate": ((1 - phi) * A + eta * v_sup) / V, "member_share": P / V,
        }[what]  # fmt: skip

    coeffs = dict(eps=ex.moderation_efficacy, phi=c.misinformation_prevalence,
                  eta=ex.health_post_share, pi_sup=ex.supporter_post_rate)  # fmt: skip
    for what, uses in (("volume", ("pi_sup",)), ("feed_misinfo", ("eps", "phi", "eta", "pi_sup")),
                       ("feed_accurate", ("phi", "eta", "pi_sup")), ("member_share", ("pi_sup",))):  # fmt: skip
        _exact(comm[what], lambda what=what, **kw: rule(what, **{**coeffs, **kw}),
               {u: coeffs[u] for u in uses}, f"feed {what}", tol=1e-12)  # fmt: skip
    np.testing.assert_allclose(comm["feed_aware"], f["f_aware"], rtol=1e-12)
    np.testing.assert_allclose(comm["feed_misinfo"], f["f_mis"], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# §7.4 Exchange


def _ties(m, y, flows):
    """Per person: today's posts, misleading and accurate posts of tied co-members, and their
    mean self-stigma (yesterday's), from the base network (ODD §7.4, §7.5 peer norms)."""
    g = m.graph
    src = np.repeat(np.arange(N), np.diff(g.indptr))
    dst = g.indices.astype(np.int64)
    k = y["community"]
    same = (k[src] == k[dst]) & (k[src] >= 0)
    src, dst = src[same], dst[same]
    count = lambda w: np.bincount(src, weights=w[dst], minlength=N)  # noqa: E731
    return {
        "TP": count(flows["posted"].astype(float)),
        "TM": count(flows["post_misinfo"].astype(float)),
        "TA": count(flows["post_accurate"].astype(float)),
        "peers": np.bincount(src, minlength=N),
        "stigma_sum": lambda s: count(s),
    }


def test_exchange_support_and_exposures_one_day():
    """§7.4: r = min(R·u, V_k); S = 1 - exp(-γ(T^P - T^M + r·max(0, 1 - f_mis - η^H) + 2x)) with
    η^H = h_k·q_k·θ_read·m_k (support by content); λ_mis = q_k·T^M + r·f_mis,
    λ_acc = T^A + r·f_acc, A = r·α_k; all 0 offline. Tie counts from the base network."""
    m, x, y, fl = _busy_day()
    ex, c = m.params.exchange, m.params.communities
    f, t = _odd_feed(m, x, y), _ties(m, y, fl)
    k = y["community"]
    on = k >= 0
    kk = np.where(on, k, 0)
    use, own = m.state.static["use"], fl["posted"].astype(float)
    r = np.where(on, np.minimum(ex.read_rate * use, f["V"][kk]), 0.0)
    _exact(fl["reads"], lambda R: np.where(on, np.minimum(R * use, f["V"][kk]), 0.0),
           {"R": ex.read_rate}, "reads")  # fmt: skip
    assert (t["TP"][on] > 0).sum() > N // 4 and (t["TM"] > 0).sum() > 1000  # ties at work

    def support(gamma, theta_read):
        eta_h = f["h"][kk] * f["q"][kk] * theta_read * f["m"][kk]
        dose = t["TP"] - t["TM"] + r * np.maximum(0.0, 1 - f["f_mis"][kk] - eta_h) + 2 * own
        return np.where(on, -np.expm1(-gamma * dose), 0.0)

    _exact(fl["support"], support, {"gamma": ex.support_per_post,
                                    "theta_read": ex.hostile_per_read}, "support signal")  # fmt: skip
    _exact(fl["lam_misinfo"], lambda: np.where(on, f["q"][kk] * t["TM"] + r * f["f_mis"][kk], 0.0),
           {}, "misleading posts met")  # fmt: skip
    _exact(fl["lam_accurate"], lambda: np.where(on, t["TA"] + r * f["f_acc"][kk], 0.0), {},
           "accurate posts met")  # fmt: skip
    _exact(fl["anti_stigma"], lambda alpha: np.where(on, r * alpha, 0.0),
           {"alpha": c.anti_stigma_content}, "anti-stigma posts read")  # fmt: skip
    # Peer norm (§7.5): the mean self-stigma of tied co-members, exact to a step of 1/16383.
    peers = t["peers"]
    norm = np.where(peers > 0, t["stigma_sum"](x["stigma"]) / np.maximum(peers, 1), x["stigma"])
    np.testing.assert_allclose(fl["norm_stigma"], norm, rtol=0, atol=1 / 16383)
    assert np.abs(norm - x["stigma"]).max() > 0.1  # the norm is not one's own


def test_hostile_comments_one_day():
    """§7.4: a hostile comment arrives with 1 - exp(-λ^H),
    λ^H = h_k·q_k·(x + θ_read·r·m_k)·ψ^[schizophrenia]; none offline."""
    m, x, y, fl = _busy_day()
    ex = m.params.exchange
    f = _odd_feed(m, x, y)
    k = y["community"]
    on = k >= 0
    kk = np.where(on, k, 0)
    schizo = m.state.static["diagnosis"] == 0
    lam = (
        f["h"][kk] * f["q"][kk] * (fl["posted"] + ex.hostile_per_read * fl["reads"] * f["m"][kk])
        * np.where(schizo, ex.psychosis_hostility, 1.0)
    )  # fmt: skip
    p = -np.expm1(-lam)
    for who, w in (("schizophrenia", on & schizo), ("other diagnoses", on & ~schizo)):
        _within(fl["hostile"][w] == 1, p[w], f"hostile comments, {who}")
    assert not fl["hostile"][~on].any()


# ---------------------------------------------------------------------------------------------
# §7.5 Belonging, empowerment, self-stigma (the terms tests/test_risks.py does not isolate)


def test_social_one_day():
    """§7.5 with every term at work: b' = clip(b + g_b·S(1-b) - d_b(b - b_off(1 - Δ·u·[k≥0]))
    - ϑHℓ_b·b); E' = clip(E + g_E·S(1-E) - d_E(E - E0) - ϑHℓ_E·E);
    s' = clip(s - (k_s·S·E + k_c(1 - e^-A))s + ϑH·k_H(1-s) + k_Z·ζ(1-s) + d_s(s0 - s) + w_n(s̄ - s));
    H̃' = δH̃ + H; ϑ = 1 + (θ_V - 1)v. S, H, A, ζ and s̄ are today's flows; the rest yesterday's."""
    m, x, y, fl = _busy_day()
    s_, st, e, ex, pr = (
        m.state.static,
        m.params.stigma,
        m.params.entry,
        m.params.exchange,
        m.params.privacy,
    )
    on = (y["community"] >= 0).astype(float)
    S, H, A, zeta, norm = fl["support"], fl["hostile"].astype(float), fl["anti_stigma"], fl["harmed"].astype(float), fl["norm_stigma"]  # fmt: skip
    v, u, b_off = s_["vulnerable"].astype(float), s_["use"], s_["belonging_offline"]
    b, E, s = x["belonging"], x["empowerment"], x["stigma"]
    assert H.sum() > 2000 and zeta.sum() > 200 and (S > 0.5).sum() > 5000  # every term at work
    clip = lambda z: np.clip(z, 0.0, 1.0)  # noqa: E731

    def belonging(g_b, d_b, delta, theta_v, l_b):
        vt = 1 + (theta_v - 1) * v
        return clip(
            b + g_b * S * (1 - b) - d_b * (b - b_off * (1 - delta * u * on)) - vt * H * l_b * b
        )

    def empowerment(g_e, d_e, theta_v, l_e):
        vt = 1 + (theta_v - 1) * v
        return clip(E + g_e * S * (1 - E) - d_e * (E - s_["empowerment0"]) - vt * H * l_e * E)

    def stigma(k_s, k_c, k_h, k_z, d_s, w_n, theta_v):
        vt = 1 + (theta_v - 1) * v
        return clip(s - (k_s * S * E + k_c * -np.expm1(-A)) * s + vt * H * k_h * (1 - s)
                    + k_z * zeta * (1 - s) + d_s * (s_["stigma0"] - s) + w_n * (norm - s))  # fmt: skip

    _exact(y["belonging"], belonging, dict(g_b=st.belonging_gain, d_b=st.belonging_decay,
           delta=e.offline_displacement, theta_v=ex.vulnerable_hostility,
           l_b=st.hostility_belonging_loss), "belonging")  # fmt: skip
    _exact(y["empowerment"], empowerment, dict(g_e=st.empowerment_gain,
           d_e=st.empowerment_relaxation, theta_v=ex.vulnerable_hostility,
           l_e=st.hostility_empowerment_loss), "empowerment")  # fmt: skip
    _exact(y["stigma"], stigma, dict(k_s=st.stigma_reduction, k_c=st.campaign_effect,
           k_h=st.hostility_stigma_gain, k_z=pr.harm_stigma, d_s=st.stigma_relaxation,
           w_n=st.peer_norm_weight, theta_v=ex.vulnerable_hostility), "self-stigma")  # fmt: skip
    _exact(y["hostile_recent"], lambda delta: delta * x["hostile_recent"] + H,
           {"delta": e.hostility_memory}, "memory of hostile comments")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# §7.7 Uncertainty, activation and trust


def test_activation_one_day():
    """§7.7: w_τ = τ/τ̄, L = 1 - e^(-w_τ·λ_acc), C = 1 - e^-(λ_mis + H);
    U' = clip(U + g_U·C(1-U) - r_U·L·U + d_U(U0 - U));
    a' = clip[0,100](a + g_a·L(1 + β_E·E)(100 - a) - δ_m[m=1]a - δ_U·max(U - U0, 0)a + d_a(a0 - a));
    τ' = clip(τ + (g^L·L + g^μ·μ_k[k≥0])(1-τ) - (ℓ^C·K[k≥0] + ℓ^H·H)τ + d_τ(τ0 - τ)).
    λ, H and K (corrected today) are today's flows; U, a, E, m, τ yesterday's."""
    m, x, y, fl = _busy_day()
    s_, ac, tr = m.state.static, m.params.activation, m.params.trust
    k = y["community"]
    on = k >= 0
    mu_k = np.where(on, _odd_feed(m, x, y)["mu"][np.where(on, k, 0)], 0.0)
    H, K = fl["hostile"].astype(float), fl["corrected"].astype(float)
    U, a, E, tau = x["uncertainty"], x["activation"], x["empowerment"], x["trust"]
    U0, a0, tau0 = s_["uncertainty0"], s_["activation0"], s_["trust0"]
    misled = (x["misinfo"] == 1).astype(float)
    assert K[on].sum() > 200 and H.sum() > 2000

    def learning(tau_bar):
        return -np.expm1(-(tau / tau_bar) * fl["lam_accurate"])

    L = learning(m.params.population.trust_mean)
    C = -np.expm1(-(fl["lam_misinfo"] + H))
    _exact(y["uncertainty"],
           lambda g_u, r_u, d_u, tau_bar: np.clip(U + g_u * C * (1 - U) - r_u * learning(tau_bar) * U + d_u * (U0 - U), 0, 1),
           dict(g_u=ac.uncertainty_gain, r_u=ac.uncertainty_relief, d_u=ac.uncertainty_relaxation,
                tau_bar=m.params.population.trust_mean), "uncertainty")  # fmt: skip
    _exact(y["activation"],
           lambda g_a, beta_e, d_m, d_uu, d_a: np.clip(
               a + g_a * L * (1 + beta_e * E) * (100 - a) - d_m * misled * a
               - d_uu * np.maximum(U - U0, 0) * a + d_a * (a0 - a), 0, 100),
           dict(g_a=ac.learning_gain, beta_e=ac.empowerment_boost, d_m=ac.misinfo_drag,
                d_uu=ac.uncertainty_drag, d_a=ac.relaxation), "activation")  # fmt: skip
    _exact(y["trust"],
           lambda g_l, g_mu, l_c, l_h, d_t: np.clip(
               tau + (g_l * L + g_mu * mu_k) * (1 - tau) - (l_c * K * on + l_h * H) * tau
               + d_t * (tau0 - tau), 0, 1),
           dict(g_l=tr.learning_gain, g_mu=tr.moderation_gain, l_c=tr.found_out_loss,
                l_h=tr.hostility_loss, d_t=tr.relaxation), "trust")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# §7.10 Wellbeing and §7.11 recovery


def test_wellbeing_one_day():
    """§7.10: T^m = β^m + ω_b·b + ω_E(E - E0) - ω_s(s - s0) - ω_U(U - U0) + ω^m_c[c=2] + ω^m_n·n,
    w^m' = clip(w^m + τ_w(T^m - w^m) - ϑχH); T^p = β^p + ω^p_c[c=2] + ω^p_n·n,
    w^p' = clip(w^p + τ_w(T^p - w^p)). States yesterday's, H today's."""
    m, x, y, fl = _busy_day()
    s_, w, iv, ex = m.state.static, m.params.wellbeing, m.params.intervention, m.params.exchange
    H, v = fl["hostile"].astype(float), s_["vulnerable"].astype(float)
    in_care, n = (x["care"] == 2).astype(float), x["enrolled"].astype(float)
    assert n.sum() > 2000 and H.sum() > 2000

    def mental(tau_w, o_b, o_e, o_s, o_u, o_c, o_n, chi, theta_v):
        target = (s_["wm_base"] + o_b * x["belonging"] + o_e * (x["empowerment"] - s_["empowerment0"])
                  - o_s * (x["stigma"] - s_["stigma0"]) - o_u * (x["uncertainty"] - s_["uncertainty0"])
                  + o_c * in_care + o_n * n)  # fmt: skip
        wm = x["wellbeing_mental"]
        return np.clip(wm + tau_w * (target - wm) - (1 + (theta_v - 1) * v) * chi * H, 0, 1)

    def physical(tau_w, o_c, o_n):
        wp = x["wellbeing_physical"]
        return np.clip(wp + tau_w * (s_["wp_base"] + o_c * in_care + o_n * n - wp), 0, 1)

    _exact(y["wellbeing_mental"], mental, dict(tau_w=w.adjust_rate, o_b=w.belonging_effect,
           o_e=w.empowerment_effect, o_s=w.stigma_effect, o_u=w.uncertainty_effect,
           o_c=w.care_effect_mental, o_n=iv.mental_effect, chi=w.hostility_shock,
           theta_v=ex.vulnerable_hostility), "mental wellbeing")  # fmt: skip
    _exact(y["wellbeing_physical"], physical, dict(tau_w=w.adjust_rate, o_c=w.care_effect_physical,
           o_n=iv.physical_effect), "physical wellbeing")  # fmt: skip


def test_recovery_one_day():
    """§7.11: T^r = β^r + ρ_w(w^m - w^m_0) + ρ_a(a - a0)/100 + ρ_c[c=2], r' = clip(r + τ_r(T^r - r))
    (yesterday's states). Employment: test_employment_one_day; acute care: tests/test_risks.py."""
    m, x, y, _ = _busy_day()
    s_, o = m.state.static, m.params.offline
    in_care = (x["care"] == 2).astype(float)

    def recovery(tau_r, rho_w, rho_a, rho_c):
        target = (s_["r_base"] + rho_w * (x["wellbeing_mental"] - s_["wellbeing_mental0"])
                  + rho_a * (x["activation"] - s_["activation0"]) / 100 + rho_c * in_care)  # fmt: skip
        return np.clip(x["recovery"] + tau_r * (target - x["recovery"]), 0, 1)

    _exact(y["recovery"], recovery, dict(tau_r=o.recovery_rate, rho_w=o.recovery_wellbeing,
           rho_a=o.recovery_activation, rho_c=o.recovery_care), "recovery")  # fmt: skip
