"""An independent specification of day 0 (issue 20, item 5): the population against ODD §5.1 and
the base network's generator against ODD §5.3, statistically, from the ODD's text.

The reference implementation draws its own day-0 population (``reference.day0_state``, compared
with ``population.init_state`` to the bit in tests/test_reference.py), but it takes the base
network as input data; so the generator is checked here. Each statistic is compared with the
ODD's value within 4 standard errors, and the test asserts the interval is tight enough that the
ODD's value off by a factor 1.2 (a correlation, a share, a mean degree) would fall outside it.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from scipy import special, stats
from util import params

from peerwell.simulation.network import build_network
from peerwell.simulation.population import init_state

N = 40_000


def _close(value: float, expected: float, se: float, what: str, factor: float = 1.2) -> None:
    """|value - expected| ≤ 4 SE, and 8 SE < (factor - 1)·|expected| (a rule off by ``factor``
    would be seen)."""
    assert 8 * se < (factor - 1) * abs(expected), f"{what}: SE {se:.4g} cannot tell ×{factor}"
    assert abs(value - expected) <= 4 * se, (
        f"{what}: {value:.5g}, the ODD gives {expected:.5g} ± {4 * se:.3g} (4 SE)"
    )


def _share(flags: np.ndarray, p: float, what: str) -> None:
    flags = np.asarray(flags, dtype=bool)
    _close(flags.mean(), p, math.sqrt(p * (1 - p) / flags.size), what)


# Correlations raised above their defaults so that a factor 1.2 is visible at 40,000 people.
CORRELATIONS = {
    "population__isolation_use": 0.5,
    "population__vulnerable_isolation": 0.5,
    "population__online_selection": 0.5,
}
# Small shares raised so that a factor 1.2 is visible at 40,000 people.
SHARES = {
    "population__share_superuser": 0.1,
    "population__share_contributor": 0.25,
    "population__initial_misinformed_share": 0.2,
    "population__share_in_care": 0.3,
    "population__share_seeking": 0.1,
    "population__share_disengaged": 0.1,
    "population__vulnerable_share": 0.2,
    "population__employed_share": 0.3,
}


@functools.lru_cache(maxsize=1)
def _day0():
    p = params(population__size=N, seed=21, communities__count=4, **CORRELATIONS, **SHARES)
    return p, init_state(p)


def test_shares_of_the_population():
    """§5.1 items 1, 6-8, 10, 11: diagnosis mix, online share (whatever the selection), role,
    beliefs (misled m0; corrected a share c of the rest), care status, employment; §5.1.4 the
    vulnerable share."""
    p, st = _day0()
    pop, s, x = p.population, st.static, st.cur
    for d, share in enumerate((pop.share_schizophrenia, pop.share_bipolar, pop.share_depression)):
        _share(s["diagnosis"] == d, share, f"diagnosis {d}")
    _share(x["community"] >= 0, pop.initial_online_share, "online at day 0")
    _share(s["vulnerable"] == 1, pop.vulnerable_share, "vulnerable")
    _share(x["role"] == 2, pop.share_superuser, "superusers")
    _share(x["role"] == 1, pop.share_contributor, "contributors")
    m0 = pop.initial_misinformed_share
    _share(x["misinfo"] == 1, m0, "misled")
    _share(x["misinfo"] == 2, (1 - m0) * pop.initial_corrected_share, "corrected")
    for c, share in ((2, pop.share_in_care), (1, pop.share_seeking), (3, pop.share_disengaged)):
        _share(x["care"] == c, share, f"care status {c}")
    _share(x["employed"] == 1, pop.employed_share, "employed")
    assert (x["ever_online"] == (x["community"] >= 0)).all()
    for name in ("posts", "ever_posted", "hostile_recent", "enrolled", "disclosed", "privacy_harm",
                 "acute_visits"):  # fmt: skip
        assert not x[name].any(), name


def test_activation_by_diagnosis():
    """§5.1.2: a0 = clip[0,100](mean_d + sd_d·z) with the PAM-MH mean and SD of each diagnosis:
    the moments of that clipped normal (the clip at 100 narrows the SD of the bipolar group)."""
    p, st = _day0()
    pop, s = p.population, st.static
    assert (st.cur["activation"] == s["activation0"]).all()
    for d, name in enumerate(("schizophrenia", "bipolar", "depression")):
        a = s["activation0"][s["diagnosis"] == d]
        law = stats.norm(getattr(pop, f"pam_mean_{name}"), getattr(pop, f"pam_sd_{name}"))
        mean = law.expect(lambda v: np.clip(v, 0, 100))
        var = law.expect(lambda v, m=mean: (np.clip(v, 0, 100) - m) ** 2)
        sd = math.sqrt(var)
        _close(a.mean(), mean, sd / math.sqrt(a.size), f"PAM mean, {name}")
        _close(a.std(), sd, sd / math.sqrt(2 * a.size), f"PAM SD, {name}")


def _beta_moments(values, mean, kappa, what):
    """Beta(μ, κ): mean μ, variance μ(1-μ)/(κ+1)."""
    var = mean * (1 - mean) / (kappa + 1)
    _close(values.mean(), mean, math.sqrt(var / values.size), f"{what} mean")
    # the variance's SE from the fourth central moment of the Beta
    a, b = mean * kappa, (1 - mean) * kappa
    m4 = stats.beta(a, b).moment(4) - 4 * mean * stats.beta(a, b).moment(3) + 6 * mean**2 * (
        var + mean**2
    ) - 3 * mean**4  # fmt: skip
    _close(values.var(), var, math.sqrt((m4 - var**2) / values.size), f"{what} variance")


def test_beta_margins():
    """§5.1 items 3, 4, 9, 12, 13: self-stigma Beta(μ_s by diagnosis, κ_s); offline connectedness
    Beta(b̄_off, 6) (and belonging equal to it); use Beta(ū, κ_u); uncertainty Beta(Ū, 6);
    empowerment Beta(0.45, 6); wellbeing Beta(0.5, 8) each; recovery Beta(0.4, 6); trust
    Beta(τ̄, 6). The margins do not depend on the copula's correlations."""
    p, st = _day0()
    pop, s, x = p.population, st.static, st.cur
    schizo = s["diagnosis"] == 0
    _beta_moments(s["stigma0"][schizo], pop.stigma_mean_schizophrenia, pop.stigma_concentration,
                  "self-stigma, schizophrenia")  # fmt: skip
    _beta_moments(s["stigma0"][~schizo], pop.stigma_mean_other, pop.stigma_concentration,
                  "self-stigma, other")  # fmt: skip
    _beta_moments(s["belonging_offline"], pop.belonging_offline_mean, 6, "offline connectedness")
    assert (x["belonging"] == s["belonging_offline"]).all()
    _beta_moments(s["use"], pop.social_media_use_mean, pop.social_media_use_concentration, "use")
    _beta_moments(s["uncertainty0"], pop.uncertainty_mean, 6, "uncertainty")
    _beta_moments(s["empowerment0"], 0.45, 6, "empowerment")
    _beta_moments(x["wellbeing_mental"], 0.5, 8, "mental wellbeing")
    _beta_moments(x["wellbeing_physical"], 0.5, 8, "physical wellbeing")
    _beta_moments(x["recovery"], 0.4, 6, "recovery")
    _beta_moments(s["trust0"], pop.trust_mean, 6, "trust")


def test_copula_correlations():
    """§5.1.4 and 6: with z_iso = -Φ⁻¹(F_off(b_off)) and z_use = Φ⁻¹(F_use(u)) recovered from the
    margins, corr(z_iso, z_use) = ρ_u; E[z_iso | vulnerable] = ρ_V·φ(c_V)/p_V with
    c_V = Φ⁻¹(1 - p_V); E[z_use | online] = ρ_o·φ(c_o)/p_on with c_o = Φ⁻¹(p_on) (truncated
    bivariate normals)."""
    p, st = _day0()
    pop, s = p.population, st.static
    u_off = special.betainc(6 * pop.belonging_offline_mean, 6 * (1 - pop.belonging_offline_mean),
                            s["belonging_offline"])  # fmt: skip
    z_iso = -special.ndtri(np.clip(u_off, 1e-12, 1 - 1e-12))
    mu, k = pop.social_media_use_mean, pop.social_media_use_concentration
    z_use = special.ndtri(
        np.clip(special.betainc(mu * k, (1 - mu) * k, s["use"]), 1e-12, 1 - 1e-12)
    )
    rho = pop.isolation_use
    _close(
        np.corrcoef(z_iso, z_use)[0, 1], rho, (1 - rho**2) / math.sqrt(N), "corr(isolation, use)"
    )
    v = s["vulnerable"] == 1
    c_v = special.ndtri(1 - pop.vulnerable_share)
    _close(z_iso[v].mean(), pop.vulnerable_isolation * stats.norm.pdf(c_v) / pop.vulnerable_share,
           1 / math.sqrt(v.sum()), "isolation of the vulnerable")  # fmt: skip
    on = st.cur["community"] >= 0
    c_o = special.ndtri(pop.initial_online_share)
    _close(z_use[on].mean(), pop.online_selection * stats.norm.pdf(c_o) / pop.initial_online_share,
           1 / math.sqrt(on.sum()), "use of those online")  # fmt: skip


def test_homes_and_intercepts():
    """§5.1.5: homes uniform over the K communities, people numbered in order of home; §5.1.6 an
    online person is at home with h + (1-h)/K; §5.1.14 the intercepts make each target equal the
    day-0 value (exact)."""
    p, st = _day0()
    s, x, K = st.static, st.cur, p.communities.count
    assert (np.diff(s["home"]) >= 0).all()
    for k in range(K):
        _share(s["home"] == k, 1 / K, f"home {k}")
    on = x["community"] >= 0
    h = p.entry.home_bias
    _share(x["community"][on] == s["home"][on], h + (1 - h) / K, "online at home")
    w, care = p.wellbeing, (x["care"] == 2).astype(float)
    target_m = s["wm_base"] + w.belonging_effect * x["belonging"] + w.care_effect_mental * care
    np.testing.assert_allclose(target_m, x["wellbeing_mental"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(s["wp_base"] + w.care_effect_physical * care,
                               x["wellbeing_physical"], rtol=0, atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(s["r_base"] + p.offline.recovery_care * care, x["recovery"],
                               rtol=0, atol=1e-12)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# §5.3 the base network


def _sbm_expected(home, k_bar, w):
    """ODD §5.3: p_kk = d̄w/(n_k - 1), p_kl = d̄(1-w)/(n - n_k), "symmetrised" — (code) as the mean
    of p_kl and p_lk. Expected ties within blocks and between them."""
    sizes = np.bincount(home).astype(float)
    n, K = sizes.sum(), sizes.size
    pr = np.array([[k_bar * w / (sizes[a] - 1) if a == b else k_bar * (1 - w) / (n - sizes[a])
                    for b in range(K)] for a in range(K)])  # fmt: skip
    pr = (pr + pr.T) / 2
    within = sum(pr[a, a] * sizes[a] * (sizes[a] - 1) / 2 for a in range(K))
    between = sum(pr[a, b] * sizes[a] * sizes[b] for a in range(K) for b in range(a + 1, K))
    return within, between


@pytest.mark.parametrize("n", [20_000, 60_000], ids=["networkx", "sparse_csr"])
def test_sbm_network(n):
    """§5.3 (sbm): symmetric, no self-loops or duplicates; ties within and between home blocks as
    the block probabilities give (counts are sums of independent Bernoulli pairs); mean degree
    d̄, a share w of ties inside the home block. Above 50,000 people the sparse construction
    drops repeated pairs (a share well under 0.1%): within 4 SD + 0.1%."""
    p = params(population__size=n, seed=3, communities__count=5, network__mean_degree=10.0,
               network__within_share=0.7)  # fmt: skip
    home = init_state(p).static["home"]
    g = build_network(p, home)
    src = np.repeat(np.arange(n), np.diff(g.indptr))
    dst = g.indices.astype(np.int64)
    assert not (src == dst).any(), "self-loops"
    pairs = src * n + dst
    assert np.unique(pairs).size == pairs.size, "duplicate ties"
    assert np.array_equal(np.sort(pairs), np.sort(dst * n + src)), "not symmetric"
    inside = home[src] == home[dst]
    within, between = int(inside.sum()) // 2, int((~inside).sum()) // 2
    e_within, e_between = _sbm_expected(home, 10.0, 0.7)
    slack = 1e-3 if n > 50_000 else 0.0
    for count, expected, what in ((within, e_within, "ties within blocks"),
                                  (between, e_between, "ties between blocks")):  # fmt: skip
        sd = math.sqrt(expected)
        assert 8 * sd < 0.2 * expected
        assert abs(count - expected) <= 4 * sd + slack * expected, (
            f"{what}: {count}, the ODD gives {expected:.0f} ± {4 * sd:.0f}"
        )
    degree = np.diff(g.indptr)
    _close(degree.mean(), 10.0, 2 * math.sqrt(10.0 / n) + 10.0 * slack / 4, "mean degree")
    _close(inside.mean(), 0.7, math.sqrt(0.7 * 0.3 / (within + between)) + slack, "within share")
