"""The people and communities at day 0.

Every person's draws come from the counter-based generator by (seed, person, draw index), so
person i is the same person in every scenario and at every population size: scenario A and B
start from the same people (common random numbers), and a population of 3,000 is the first 3,000
people of a population of 5,000.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import special

from .params import PLATFORMS, ModelParams, community_names, community_setting
from .rng import init_uniforms
from .state import State

# Platform multipliers on hostility, and the moderation floor of a moderated platform.
# Twitter/X carries the most pejorative content on psychosis (Alvarez-Mon 2019); dedicated forums
# and moderated platforms (HORYZONS-like) the least.
PLATFORM_HOSTILITY = {
    "facebook_group": 1.0,
    "youtube": 1.2,
    "twitter": 1.6,
    "forum": 0.8,
    "moderated_platform": 0.5,
}
PLATFORM_MIN_MODERATION = {"moderated_platform": 0.8}
# How much people disclose their diagnosis on each platform (per post, relative to a Facebook
# group), and how exposed a disclosure is there (who can see it and tie it to a person): video
# shows a face; forums are pseudonymous; a closed, moderated platform is seen only by its members
# (ODD §7.12; assumptions, flagged for sensitivity analysis).
PLATFORM_DISCLOSURE = {
    "facebook_group": 1.0,
    "youtube": 1.5,
    "twitter": 1.0,
    "forum": 0.6,
    "moderated_platform": 1.0,
}
PLATFORM_EXPOSURE = {
    "facebook_group": 1.0,
    "youtube": 1.0,
    "twitter": 1.0,
    "forum": 0.4,
    "moderated_platform": 0.2,
}

# Draw indices of the initial population: fixed, so adding a draw never shifts another.
D_DIAGNOSIS, D_PAM, D_STIGMA, D_USE, D_ONLINE, D_HOME_CHOICE, D_OTHER = 0, 1, 2, 3, 4, 5, 6
D_ROLE, D_MISINFO, D_UNCERTAINTY, D_CARE, D_EMPLOYED, D_EMPOWER = 7, 8, 9, 10, 11, 12
D_WB_MENTAL, D_WB_PHYSICAL, D_RECOVERY, D_BELONGING, D_HOME = 13, 14, 15, 16, 17
D_VULNERABLE, D_TRUST = 18, 19


# The inverse Beta CDF is tabulated on a grid even in logit(u), then interpolated: scipy's
# beta.ppf costs about 4 s per million draws (a root search each), the table 20,001 of them.
# In logit space the inverse CDF is smooth even in its tails (there x ~ u^(1/a)), so linear
# interpolation keeps the error below 1e-6 (tests/test_population.py holds it there).
_LOGIT_GRID = np.linspace(-40.0, 40.0, 20_001)
_U_GRID = special.expit(_LOGIT_GRID)


@functools.lru_cache(maxsize=64)
def _beta_grid(a: float, b: float) -> np.ndarray:
    # ~0.5 s per call: a sweep or a test suite builds thousands of populations with the same few
    # (a, b), so the tabulated inverse CDF is kept (64 grids of 160 kB at most).
    grid = special.betaincinv(a, b, _U_GRID)
    grid.flags.writeable = False
    return grid


def _beta_single(u: np.ndarray, a: float, b: float) -> np.ndarray:
    x_grid = _beta_grid(float(a), float(b))
    z = special.logit(np.clip(u, 1e-17, 1 - 1e-17))
    return np.clip(np.interp(z, _LOGIT_GRID, x_grid), 0.0, 1.0)


def _beta(u: np.ndarray, mean: np.ndarray | float, concentration: float) -> np.ndarray:
    """Beta(mean·c, (1-mean)·c) draws by inverse CDF from the given uniforms (one per person)."""
    mean = np.broadcast_to(np.asarray(mean, dtype=np.float64), u.shape)
    out = np.empty_like(u)
    for m in np.unique(mean):  # a handful of distinct means (by diagnosis)
        sel = mean == m
        out[sel] = _beta_single(u[sel], m * concentration, (1 - m) * concentration)
    return out


def _copula(z_common: np.ndarray, u_own: np.ndarray, rho: float) -> np.ndarray:
    """A standard normal correlated ``rho`` with ``z_common``: ``rho·z + sqrt(1-rho²)·z_own``
    (``z_own`` from the person's own uniform; ``rho`` 0 gives ``z_own`` itself)."""
    z_own = special.ndtri(np.clip(u_own, 1e-12, 1 - 1e-12))
    if rho == 0.0:
        return z_own
    return rho * z_common + np.sqrt(1.0 - rho * rho) * z_own


def init_state(params: ModelParams) -> State:
    """Draw the day-0 population and community properties.

    Parameters
    ----------
    params : ModelParams
        Validated parameters.

    Returns
    -------
    State
        Arrays with ``cur`` holding day 0 and ``static`` filled.
    """
    p = params.population
    # Homes and day-0 memberships are among the generic communities (the first c_count); added
    # communities (params.community) start empty and gain members by joining (ODD §7.1).
    n, c_count = p.size, params.communities.count
    st = State.empty(n, len(community_names(params)))
    u = lambda d: init_uniforms(params.seed, n, d)  # noqa: E731
    s, x = st.static, st.cur

    # Diagnosis mix.
    ud = u(D_DIAGNOSIS)
    diag = np.where(
        ud < p.share_schizophrenia, 0, np.where(ud < p.share_schizophrenia + p.share_bipolar, 1, 2)
    )
    s["diagnosis"][:] = diag

    # Baseline activation from the PAM-MH means and SDs by diagnosis, clipped to the PAM scale.
    means = np.array([p.pam_mean_schizophrenia, p.pam_mean_bipolar, p.pam_mean_depression])
    sds = np.array([p.pam_sd_schizophrenia, p.pam_sd_bipolar, p.pam_sd_depression])
    z = special.ndtri(np.clip(u(D_PAM), 1e-12, 1 - 1e-12))
    a0 = np.clip(means[diag] + sds[diag] * z, 0.0, 100.0)
    s["activation0"][:] = a0
    x["activation"][:] = a0

    # Self-stigma (ISMI rescaled to 0-1; moderate/high is above 0.5, ISMI 2.5).
    smean = np.where(diag == 0, p.stigma_mean_schizophrenia, p.stigma_mean_other)
    s0 = _beta(u(D_STIGMA), smean, p.stigma_concentration)
    s["stigma0"][:] = s0
    x["stigma"][:] = s0

    # Who is vulnerable, isolated, a heavy user and online are related (ODD §5.1): a Gaussian
    # copula. Isolation is low offline connectedness; being vulnerable and heavy use lean toward
    # it, being online at day 0 toward heavy use. Each correlation 0 gives the independent draw.
    u_off = u(D_BELONGING)
    z_iso = -special.ndtri(np.clip(u_off, 1e-12, 1 - 1e-12))
    s["belonging_offline"][:] = _beta(u_off, p.belonging_offline_mean, 6.0)
    s["vulnerable"][:] = _copula(z_iso, u(D_VULNERABLE), p.vulnerable_isolation) > special.ndtri(
        1.0 - p.vulnerable_share
    )
    z_use = _copula(z_iso, u(D_USE), p.isolation_use)
    if p.social_media_use_concentration > 0:
        s["use"][:] = _beta(
            special.ndtr(z_use), p.social_media_use_mean, p.social_media_use_concentration
        )
    else:  # no spread: everyone reads alike, the well-mixed limit of the classic models
        s["use"][:] = p.social_media_use_mean
    s["trust0"][:] = _beta(u(D_TRUST), p.trust_mean, 6.0)
    x["trust"][:] = s["trust0"]
    # People are numbered by home community (the draws sorted; home is independent of every other
    # attribute, so the population's distribution is unchanged). Most ties lie inside the home
    # block, so a person's neighbours sit in one contiguous stretch of the state arrays and the
    # daily neighbour gather reads from cache: at a million people it halved the exchange's time.
    home = np.sort(np.minimum((u(D_HOME) * c_count).astype(np.int64), c_count - 1))
    s["home"][:] = home

    # Who is already online at day 0, and where.
    # (heavy use: a larger z_use, a smaller value to compare, more often online)
    online = _copula(-z_use, u(D_ONLINE), p.online_selection) < special.ndtri(
        p.initial_online_share
    )
    other = np.minimum((u(D_OTHER) * c_count).astype(np.int64), c_count - 1)
    chosen = np.where(u(D_HOME_CHOICE) < params.entry.home_bias, home, other)
    opens, closes = community_days(params)
    open0 = (opens[:c_count] <= 0) & (closes[:c_count] > 0)
    if not open0.all():
        # A generic community not open on day 0 has no members then: who would be in it is in
        # one of the open ones instead, picked uniformly with the same draw as ``other`` (with
        # every community open this is ``other`` itself), or offline if none is open.
        ids = np.flatnonzero(open0)
        if ids.size:
            alt = ids[np.minimum((u(D_OTHER) * ids.size).astype(np.int64), ids.size - 1)]
            chosen = np.where(open0[chosen], chosen, alt)
        else:
            online = np.zeros(n, dtype=bool)
    x["community"][:] = np.where(online, chosen, -1)
    x["ever_online"][:] = online

    # Participation inequality: lurkers, contributors, superusers.
    ur = u(D_ROLE)
    role = np.where(
        ur < p.share_superuser, 2, np.where(ur < p.share_superuser + p.share_contributor, 1, 0)
    )
    x["role"][:] = role  # a role's posting rate is the role's (kernels._role_rate)

    misinfo_on = params.mechanisms.misinformation
    um = u(D_MISINFO)
    misled = um < p.initial_misinformed_share * misinfo_on
    # the corrected are a share of those not misled, so any two shares in [0, 1] go together
    m0 = p.initial_misinformed_share
    corrected = ~misled & (um < (m0 + (1.0 - m0) * p.initial_corrected_share) * misinfo_on)
    x["misinfo"][:] = np.where(misled, 1, np.where(corrected, 2, 0)).astype(np.int8)
    u0 = _beta(u(D_UNCERTAINTY), p.uncertainty_mean, 6.0)
    s["uncertainty0"][:] = u0
    x["uncertainty"][:] = u0

    uc = u(D_CARE)
    c1, c2, c3 = (
        p.share_in_care,
        p.share_in_care + p.share_seeking,
        p.share_in_care + p.share_seeking + p.share_disengaged,
    )
    x["care"][:] = np.where(uc < c1, 2, np.where(uc < c2, 1, np.where(uc < c3, 3, 0)))
    x["employed"][:] = u(D_EMPLOYED) < p.employed_share

    e0 = _beta(u(D_EMPOWER), 0.45, 6.0)
    s["empowerment0"][:] = e0
    x["empowerment"][:] = e0
    # Everyone has offline connectedness; online belonging is built on it from day 0 (ODD §7.5).
    x["belonging"][:] = s["belonging_offline"]
    wm0 = _beta(u(D_WB_MENTAL), 0.5, 8.0)
    wp0 = _beta(u(D_WB_PHYSICAL), 0.5, 8.0)
    r0 = _beta(u(D_RECOVERY), 0.4, 6.0)
    x["wellbeing_mental"][:] = wm0
    x["wellbeing_physical"][:] = wp0
    x["recovery"][:] = r0
    s["wellbeing_mental0"][:] = wm0

    # Intercepts: each target equals its day-0 value, so change comes only from the mechanisms.
    in_care = (x["care"] == 2).astype(np.float64)
    w = params.wellbeing
    s["wm_base"][:] = wm0 - w.belonging_effect * x["belonging"] - w.care_effect_mental * in_care
    s["wp_base"][:] = wp0 - w.care_effect_physical * in_care
    s["r_base"][:] = r0 - params.offline.recovery_care * in_care

    set_community_properties(st, params)
    set_open(st, 0)
    return st


# ``closes`` of a community that never closes: after every day a run can have.
NEVER = np.iinfo(np.int64).max


def community_days(params: ModelParams) -> tuple[np.ndarray, np.ndarray]:
    """Each community's opening day and closing day (``NEVER`` if it does not close), in
    community-index order (``community_names``)."""
    names = community_names(params)
    opens = np.zeros(len(names), dtype=np.int64)
    closes = np.full(len(names), NEVER, dtype=np.int64)
    own = params.community or {}
    for k, name in enumerate(names):
        s = own.get(name)
        if s is not None:
            opens[k] = s.opens
            if s.closes is not None:
                closes[k] = s.closes
    return opens, closes


def open_on(st: State, day: int) -> np.ndarray:
    """Which communities are open on ``day``: opens <= day < closes (ODD §7.1)."""
    return (st.comm["opens"] <= day) & (day < st.comm["closes"])


def set_open(st: State, day: int) -> None:
    """``st.comm["open"]``: 1 for the communities open on ``day`` (:func:`open_on`)."""
    st.comm["open"][:] = open_on(st, day)


def set_community_properties(st: State, params: ModelParams) -> None:
    """Fill the community arrays from parameters (again whenever a timed event changes them).

    Every community takes ``communities.<property>``, except where ``community.<name>`` sets its
    own; the platform multiplier and moderation floor are those of each community's own platform.
    """
    c = params.communities
    nc = st.n_communities
    k = np.arange(nc)
    own = params.community or {}
    names = community_names(params)
    kinds = [c.platforms[i % len(c.platforms)] for i in range(nc)]
    size = np.full(nc, c.size, dtype=np.float64)
    moderation = np.full(nc, c.moderation, dtype=np.float64)
    hostility = np.full(nc, c.hostility, dtype=np.float64)
    misinfo = np.full(nc, c.misinformation_prevalence, dtype=np.float64)
    supporters = np.full(nc, c.peer_supporters, dtype=np.float64)
    intervention = k < min(c.intervention_communities, c.count)
    anti_stigma = np.full(nc, c.anti_stigma_content, dtype=np.float64)
    for i, name in enumerate(names):
        if name not in own:
            continue
        kinds[i] = community_setting(params, name, "platform")
        size[i] = community_setting(params, name, "size")
        moderation[i] = community_setting(params, name, "moderation")
        hostility[i] = community_setting(params, name, "hostility")
        misinfo[i] = community_setting(params, name, "misinformation_prevalence")
        supporters[i] = community_setting(params, name, "peer_supporters")
        intervention[i] = bool(community_setting(params, name, "intervention"))
        anti_stigma[i] = community_setting(params, name, "anti_stigma_content")
    st.comm["platform"][:] = [PLATFORMS.index(kd) for kd in kinds]
    mult = np.array([PLATFORM_HOSTILITY[kd] for kd in kinds])
    floor = np.array([PLATFORM_MIN_MODERATION.get(kd, 0.0) for kd in kinds])
    st.comm["moderation"][:] = np.maximum(moderation, floor)
    st.comm["hostility"][:] = np.minimum(hostility * mult, 1.0)
    st.comm["misinfo_prevalence"][:] = misinfo
    st.comm["supporters"][:] = supporters
    st.comm["size"][:] = size
    # What draws a person who chooses among communities (ODD §7.1): moderation, against hostility
    # (while the hostility mechanism runs: without hostile comments there is nothing to avoid).
    e = params.entry
    hostile = st.comm["hostility"] * float(params.mechanisms.hostility)
    st.comm["attraction"][:] = np.exp(
        e.attract_moderation * st.comm["moderation"] - e.attract_hostility * hostile
    )
    st.comm["intervention"][:] = intervention
    st.comm["anti_stigma"][:] = anti_stigma
    # Privacy (ODD §7.12): the platform's disclosure norm, and how exposed a disclosure is there,
    # less what moderators protect (they remove identifying content and unwanted contact).
    st.comm["disclosure"][:] = [PLATFORM_DISCLOSURE[kd] for kd in kinds]
    keep = 1.0 - st.comm["moderation"] * params.exchange.moderation_efficacy
    st.comm["exposure"][:] = np.array([PLATFORM_EXPOSURE[kd] for kd in kinds]) * keep
    opens, closes = community_days(params)
    st.comm["opens"][:] = opens
    st.comm["closes"][:] = closes
