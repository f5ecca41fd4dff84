"""The classic models' known answers, and the validation figures (pure functions, no simulation).

peerwell's misinformation kernel, configured as in ``scenarios/evidence/classic.py``, is a discrete-time
(one step = one day) contagion on a well-mixed feed: a susceptible reads ``k`` posts a day, so with
a misled share ``i`` of posters it is misled with probability ``1 - exp(-(a + b·i))``
(``b = β·k``; ``a`` is the external-source hazard of SISa, 0 otherwise), a misled person recovers
with probability ``p = 1 - exp(-g)`` a day, and a recovered one turns susceptible again with
probability ``ν`` a day. The infectious period D is geometric on {1, 2, ...} with mean 1/p.

Everything here is the exact answer of that discrete process in the large-N limit (its
mean-field map), the textbook continuous-time answer beside it, and the size of the finite-N
fluctuations, from which the validation tolerances follow.

References
----------
Andersson H, Britton T (2000). *Stochastic Epidemic Models and Their Statistical Analysis*,
Springer, Thm 4.2 (final size CLT of the general epidemic).
Hill AL, Rand DG, Nowak MA, Christakis NA (2010). Infectious disease modeling of social
contagion in networks. *PLoS Comput Biol* 6(11):e1000968 (SISa).
Maki DP, Thompson M (1973). *Mathematical Models and Applications*; Sudbury A (1985), *J Appl
Probab* 22:443-446 (θ ≈ 0.2032); Watson R (1987), On the size of a rumour, *Stoch Proc Appl*
27:141-149 (variance θ(1-θ)/(1-2θ)).
DeGroot MH (1974). Reaching a consensus. *JASA* 69:118-121.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# scipy's optimize and linalg are imported in the functions that solve (about 0.8 s to load), so
# the validation command can check its arguments first.

# ---------------------------------------------------------------------------------------------
# Contagion: SIR, SIS, SISa on the well-mixed feed


def recovery_probability(g: float) -> float:
    """Daily recovery probability ``p = 1 - exp(-g)`` of a daily hazard ``g``."""
    return -math.expm1(-g)


def mean_infectious_days(g: float) -> float:
    """E[D] = 1/p: D is geometric on {1, 2, ...} (misled on day t, first recovery check day t+1)."""
    return 1.0 / recovery_probability(g)


def beta_for_r0(r0: float, k: float, g: float) -> float:
    """The adoption probability per misleading post read that gives ``R0 = β·k·E[D]``.

    ``β·k·E[D]`` is the mean total infectious pressure of one spreader on one susceptible times
    N; it is the R0 of the final-size and endemic equations (the Sellke construction: a
    susceptible escapes with probability ``exp(-(β·k/N)·Σ D_j)``, exactly, in discrete time).
    """
    return r0 * recovery_probability(g) / k


def r0_of(beta: float, k: float, g: float) -> float:
    """``R0 = β·k/p`` (large-N)."""
    return beta * k / recovery_probability(g)


def r0_finite(beta: float, k: float, g: float, n: int) -> float:
    """Expected number misled by one spreader among n-1 susceptibles, exactly, at population n.

    ``(n-1)·(1 - E[exp(-β·k·D/n)])`` with ``E[exp(-c·D)] = p·e^-c / (1 - (1-p)·e^-c)``;
    tends to ``β·k/p`` as n grows (the difference is O(1/n)).
    """
    p = recovery_probability(g)
    c = beta * k / n
    escape = p * math.exp(-c) / (1.0 - (1.0 - p) * math.exp(-c))
    return (n - 1) * (1.0 - escape)


def sir_final_size(r0: float, initial_share: float = 0.0) -> float:
    """Share ever misled, **counting the initial spreaders**, in the large-N limit.

    Solves ``s = s0·exp(-R0·(1 - s))`` with ``s0 = 1 - initial_share`` and returns ``1 - s``;
    with ``initial_share = 0`` this is the classic ``z = 1 - exp(-R0·z)`` (0 when R0 ≤ 1).
    """
    from scipy import optimize

    s0 = 1.0 - initial_share
    if initial_share <= 0.0:
        if r0 <= 1.0:
            return 0.0
        hi = 1.0 - 1e-12
    else:
        hi = s0
    f = lambda s: s - s0 * math.exp(-r0 * (1.0 - s))  # noqa: E731
    if f(hi) <= 0.0:  # only when s0 = 1 and R0 barely above 1
        return 0.0
    return 1.0 - optimize.brentq(f, 0.0, hi, xtol=1e-14)


def sir_final_size_sd(r0: float, cv2: float) -> float:
    """Asymptotic SD of sqrt(N)·(final share - z) given a major outbreak.

    Andersson & Britton (2000) Thm 4.2:
    ``σ² = z(1-z)(1 + cv²·R0²·(1-z)) / (1 - R0·(1-z))²``, cv² the squared coefficient of
    variation of the infectious period (``1 - p`` for the geometric D of the kernel).
    """
    z = sir_final_size(r0)
    if z <= 0.0:
        return float("nan")
    return math.sqrt(z * (1 - z) * (1 + cv2 * r0**2 * (1 - z)) / (1 - r0 * (1 - z)) ** 2)


def minor_outbreak_probability(r0: float, g: float) -> float:
    """Probability one spreader's chain dies out early (branching-process limit).

    Offspring are mixed Poisson with mean ``c·D`` (``c = β·k = R0·p``), so the extinction
    probability q solves ``q = E[exp(-c·D·(1-q))] = p·e^{-x}/(1-(1-p)·e^{-x})``, ``x = c(1-q)``.
    """
    from scipy import optimize

    if r0 <= 1.0:
        return 1.0
    p = recovery_probability(g)
    c = r0 * p

    def gen(q):
        x = math.exp(-c * (1.0 - q))
        return p * x / (1.0 - (1.0 - p) * x) - q

    return optimize.brentq(gen, 0.0, 1.0 - 1e-12, xtol=1e-14)


def spreaders_for(r0: float, g: float, risk: float = 1e-6) -> int:
    """Initial spreaders needed so that all their chains die out with probability below ``risk``."""
    q = minor_outbreak_probability(r0, g)
    if q >= 1.0:
        return 1
    if q <= 0.0:
        return 1
    return max(1, math.ceil(math.log(risk) / math.log(q)))


def contagion_map(
    state: Sequence[float], a: float, b: float, p: float, nu: float
) -> tuple[float, float, float]:
    """One day of the mean-field map of the kernel: ``(s, i, r) -> (s', i', r')``.

    ``h = a + b·i``; ``s' = s·e^-h + ν·r``; ``i' = s·(1 - e^-h) + (1-p)·i``; ``r' = p·i + (1-ν)·r``.
    """
    s, i, r = state
    e = math.exp(-(a + b * i))
    return s * e + nu * r, s * (1.0 - e) + (1.0 - p) * i, p * i + (1.0 - nu) * r


def contagion_trajectory(
    i0: float, days: int, a: float, b: float, p: float, nu: float
) -> np.ndarray:
    """The mean-field map iterated from ``(1-i0, i0, 0)``: array of shape (days+1, 3)."""
    out = np.empty((days + 1, 3))
    x = (1.0 - i0, i0, 0.0)
    out[0] = x
    for t in range(days):
        x = contagion_map(x, a, b, p, nu)
        out[t + 1] = x
    return out


def endemic_share_discrete(a: float, b: float, p: float, nu: float = 1.0) -> float:
    """Misled share at the fixed point of :func:`contagion_map` (the exact discrete-time answer).

    With ``r = p·i/ν`` and ``s = 1 - i - r``, solves ``p·i = s·(1 - exp(-(a + b·i)))``.
    Returns 0 when there is no endemic state (``a = 0`` and ``b ≤ p``).
    """
    from scipy import optimize

    top = 1.0 / (1.0 + p / nu)
    f = lambda i: (1.0 - i - p * i / nu) * -math.expm1(-(a + b * i)) - p * i  # noqa: E731
    lo = 0.0 if a > 0 else 1e-12
    if a <= 0 and f(lo) <= 0.0:
        return 0.0
    return optimize.brentq(f, lo, top, xtol=1e-15)


def sisa_steady_state(a: float, beta: float, g: float, k: float) -> float:
    """Steady state of Hill et al.'s ``dI/dt = (a + β·k·I)(1 - I) - g·I`` (continuous time).

    The positive root of ``-βk·I² + (βk - a - g)·I + a = 0``; with ``a = 0`` it is ``1 - 1/R0``,
    ``R0 = βk/g`` (or 0 when R0 ≤ 1).
    """
    bk = beta * k
    if bk == 0.0:
        return a / (a + g) if a + g > 0 else 0.0
    B = bk - a - g
    return (B + math.sqrt(B * B + 4.0 * bk * a)) / (2.0 * bk)


def contagion_lna(a: float, b: float, p: float, nu: float, n: int) -> dict[str, float]:
    """Linear-noise approximation of the kernel's stationary fluctuations about the fixed point.

    The state (i, r) follows ``x' = x* + J·(x - x*) + ξ`` with binomial noise ξ of covariance
    ``Q/n`` (new infections ~ Bin(n·s, π), recoveries ~ Bin(n·i, p), renewals ~ Bin(n·r, ν)).
    Returns the stationary SD of i (``sd``), the long-run variance of i (the variance of a time
    average over T days is ``lrv / T``), and the relaxation time in days (``tau``).
    """
    from scipy import linalg

    i = endemic_share_discrete(a, b, p, nu)
    r = p * i / nu
    s = 1.0 - i - r
    e = math.exp(-(a + b * i))
    pi = 1.0 - e
    J = np.array([[-pi + s * b * e + (1.0 - p), -pi], [p, 1.0 - nu]])
    v_inf = s * pi * (1.0 - pi)
    v_rec = i * p * (1.0 - p)
    v_ren = r * nu * (1.0 - nu)
    Q = np.array([[v_inf + v_rec, -v_rec], [-v_rec, v_rec + v_ren]]) / n
    sigma = linalg.solve_discrete_lyapunov(J, Q)
    inv = np.linalg.inv(np.eye(2) - J)
    lrv = inv @ Q @ inv.T
    rho = max(abs(np.linalg.eigvals(J)))
    tau = -1.0 / math.log(rho) if 0.0 < rho < 1.0 else float("inf")
    return {"sd": float(math.sqrt(sigma[0, 0])), "lrv": float(lrv[0, 0]), "tau": tau}


# ---------------------------------------------------------------------------------------------
# Pure SIS and SISa: a corrected person open again the same day (exchange.renewal_same_day)
#
# With ``misinfo_renewal = 1`` and ``renewal_same_day`` the corrected state lasts no time, so the
# daily map is the textbook discrete SIS(a): ``i' = (1-i)·(1 - exp(-(a + b·i))) + (1-p)·i``.
# Its step-h version (every rate times h, the recovery chance γ·h with γ = p the daily one) is
# ``i' = (1-i)·(1 - exp(-(a + b·i)·h)) + (1 - γh)·i``; as h -> 0 it is Hill et al.'s ODE
# ``di/dt = (a + b·i)(1-i) - γ·i`` (R0 = b/γ, the kernel's β·k·E[D]), whose steady state is the
# root of a quadratic, ``1 - 1/R0`` when a = 0. The only discrete-time effect is that a day's
# chance of being misled is ``1 - e^-H`` rather than its hazard H = a + b·i: the Euler map
# ``i' = i + H·(1-i) - γ·i`` has exactly the textbook fixed point.


def sis_textbook(a: float, b: float, gamma: float) -> float:
    """Steady state of ``di/dt = (a + b·i)(1 - i) - γ·i`` (Hill et al. 2010, SISa; SIS when a = 0).

    The root in [0, 1] of ``-b·i² + (b - a - γ)·i + a = 0``:
    ``i* = (b - a - γ + sqrt((b - a - γ)² + 4·a·b)) / (2b)``; with ``a = 0``, ``1 - 1/R0``,
    ``R0 = b/γ`` (0 when R0 <= 1).
    """
    if b == 0.0:
        return a / (a + gamma) if a + gamma > 0 else 0.0
    B = b - a - gamma
    return max(0.0, (B + math.sqrt(B * B + 4.0 * a * b)) / (2.0 * b))


def sis_discrete(a: float, b: float, p: float, h: float = 1.0) -> float:
    """Fixed point of the pure SIS(a) map with step h: the root in (0, 1] of
    ``γh·i = (1 - i)·(1 - exp(-(a + b·i)·h))`` with ``γ = p`` (0 when a = 0 and b <= p).

    No elementary closed form (it is a generalised Lambert-W equation); the inverse is closed:
    :func:`sis_r0_for_share`. Solved by Brent's method to 1e-15.
    """
    from scipy import optimize

    g = p * h
    f = lambda i: (1.0 - i) * -math.expm1(-(a + b * i) * h) - g * i  # noqa: E731
    lo = 0.0 if a > 0 else 1e-12
    if a <= 0 and f(lo) <= 0.0:
        return 0.0
    return optimize.brentq(f, lo, 1.0, xtol=1e-15)


def sis_r0_for_share(i: float, p: float) -> float:
    """The closed-form inverse of the daily SIS fixed point: the R0 = b/p whose endemic share is i,
    ``R0 = -ln(1 - p·i/(1 - i)) / (p·i)`` (-> 1/(1 - i) as p -> 0: the textbook's inverse)."""
    return -math.log1p(-p * i / (1.0 - i)) / (p * i)


def sis_first_order(a: float, b: float, p: float, h: float = 1.0) -> float:
    """The step-h fixed point to first order in h: ``i0 + h·i1`` with i0 the textbook share and
    ``i1 = -γ·i0·H0 / (2·(γ + H0 - (1 - i0)·b))``, ``H0 = a + b·i0`` (expanding
    ``1 - e^-Hh = Hh - (Hh)²/2 + ...``); for SIS ``i1 = -γ·i0/2``: ``i* ≈ (1 - 1/R0)(1 - γh/2)``."""
    i0 = sis_textbook(a, b, p)
    if i0 <= 0.0:
        return 0.0
    h0 = a + b * i0
    return i0 - h * p * i0 * h0 / (2.0 * (p + h0 - (1.0 - i0) * b))


def sis_step_limit(a: float, b: float, p: float, steps=(1.0, 0.5, 0.25, 0.1, 0.01)) -> list[dict]:
    """The step-h fixed point against the textbook share as the step shrinks (h in days)."""
    top = sis_textbook(a, b, p)
    rows = []
    for h in steps:
        d = sis_discrete(a, b, p, h)
        rows.append({"step": h, "discrete": d, "first_order": sis_first_order(a, b, p, h),
                     "gap": d - top})  # fmt: skip
    return rows


def sis_lna(a: float, b: float, p: float, n: int) -> dict[str, float]:
    """Linear-noise approximation of the pure SIS(a) kernel about its fixed point (one variable).

    ``i' = i* + J·(i - i*) + ξ``, ``J = 1 - p - π + (1 - i)·b·e^-H``, ``Var ξ = ((1-i)·π(1-π) +
    i·p(1-p))/n`` (new cases ~ Bin(n(1-i), π), recoveries ~ Bin(n·i, p)). Stationary variance
    ``Q/(1 - J²)``, long-run variance ``Q/(1 - J)²`` (a T-day average has variance lrv/T),
    relaxation time ``-1/ln|J|`` days.
    """
    i = sis_discrete(a, b, p)
    e = math.exp(-(a + b * i))
    pi = 1.0 - e
    J = 1.0 - p - pi + (1.0 - i) * b * e
    q = ((1.0 - i) * pi * (1.0 - pi) + i * p * (1.0 - p)) / n
    tau = -1.0 / math.log(abs(J)) if 0.0 < abs(J) < 1.0 else float("inf")
    return {"sd": math.sqrt(q / (1.0 - J * J)), "lrv": q / (1.0 - J) ** 2, "tau": tau}


# ---------------------------------------------------------------------------------------------
# Maki-Thompson rumour


def maki_thompson_theta() -> float:
    """Share never reached by the rumour as N grows: the root of ``θ = exp(-2(1 - θ))`` in (0, 1)."""
    from scipy import optimize

    return optimize.brentq(lambda t: t - math.exp(-2.0 * (1.0 - t)), 1e-9, 0.5, xtol=1e-15)


def maki_thompson_sd() -> float:
    """Asymptotic SD of sqrt(N)·(share never reached - θ): Watson (1987), σ² = θ(1-θ)/(1-2θ)."""
    t = maki_thompson_theta()
    return math.sqrt(t * (1 - t) / (1 - 2 * t))


def rumour_map_theta(c: float, i0: float, max_days: int = 1_000_000) -> float:
    """Share never reached under the kernel's mean-field map (discrete time, ``c = β·k``).

    ``s' = s·e^{-c·i}``; ``i' = i·e^{-c·(i+r)} + s·(1 - e^{-c·i})``; ``r' = r + i·(1 - e^{-c·(i+r)})``
    (a spreader stops when meeting posts of people who know the claim). As ``c → 0`` this tends
    to the continuous-time Maki-Thompson θ.
    """
    s, i, r = 1.0 - i0, i0, 0.0
    for _ in range(max_days):
        if i < 1e-13:
            break
        inf = s * -math.expm1(-c * i)
        stop = i * -math.expm1(-c * (i + r))
        s, i, r = s - inf, i - stop + inf, r + stop
    return s


def rumour_trajectory(c: float, i0: float, days: int) -> np.ndarray:
    """The rumour map iterated from ``(1-i0, i0, 0)``: array of shape (days+1, 3)."""
    out = np.empty((days + 1, 3))
    s, i, r = 1.0 - i0, i0, 0.0
    out[0] = (s, i, r)
    for t in range(days):
        inf = s * -math.expm1(-c * i)
        stop = i * -math.expm1(-c * (i + r))
        s, i, r = s - inf, i - stop + inf, r + stop
        out[t + 1] = (s, i, r)
    return out


# ---------------------------------------------------------------------------------------------
# DeGroot averaging


def degroot_consensus(x0: np.ndarray, degree: np.ndarray) -> float:
    """Consensus of lazy DeGroot averaging ``x' = x + w·(P·x - x)``, ``P = D⁻¹A``, on a connected
    graph: the degree-weighted mean ``Σ d_i x_i / Σ d_i`` (π_i = d_i/Σd is P's stationary law,
    and π·x is conserved at every step)."""
    d = np.asarray(degree, dtype=np.float64)
    return float(np.dot(d, x0) / d.sum())


def degroot_rate(indptr: np.ndarray, indices: np.ndarray, w: float) -> float:
    """Per-step contraction of the disagreement: the second-largest eigenvalue modulus of
    ``(1-w)·I + w·D⁻¹A`` (computed from the symmetric ``D^-1/2·A·D^-1/2``)."""
    from scipy.sparse import csr_matrix, diags
    from scipy.sparse.linalg import eigsh

    n = len(indptr) - 1
    A = csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n, n))
    d = np.asarray(A.sum(axis=1)).ravel()
    M = diags(1.0 / np.sqrt(d)) @ A @ diags(1.0 / np.sqrt(d))
    if n <= 1500:
        mu = np.linalg.eigvalsh(M.toarray())
    else:
        big = eigsh(M, k=2, which="LA", return_eigenvectors=False)
        small = eigsh(M, k=1, which="SA", return_eigenvectors=False)
        mu = np.concatenate([big, small])
    mu = np.sort(mu)
    lam = 1.0 - w * (1.0 - mu)
    return float(max(abs(lam[-2]), abs(lam[0])))


# ---------------------------------------------------------------------------------------------
# Figures


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_sir(cases: list[dict], path: Path) -> Path:
    """Final size against R0 (simulated replicates vs z = 1 - exp(-R0·z)), and one trajectory."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    grid = np.linspace(1.01, max(c["params"]["r0"] for c in cases) * 1.1, 200)
    ax1.plot(grid, [sir_final_size(r) for r in grid], "k-", label="z = 1 − exp(−R0·z)")
    for c in cases:
        r0 = c["params"]["r0"]
        sims = c["simulated"]["final_size_replicates"]
        ax1.plot([r0] * len(sims), sims, "o", color="C0", alpha=0.6, ms=5)
        ax1.plot(r0, c["analytic"]["final_size"], "x", color="C3", ms=8)
    ax1.plot([], [], "o", color="C0", label="peerwell, final share ever misled")
    ax1.plot([], [], "x", color="C3", label="analytic with the initial spreaders")
    ax1.set_xlabel("R0")
    ax1.set_ylabel("final size z (counts the initial spreaders)")
    ax1.set_title("SIR final size")
    ax1.legend(fontsize=8)
    c = cases[len(cases) // 2]
    traj = np.asarray(c["simulated"]["trajectory"])
    mf = np.asarray(c["analytic"]["trajectory"])
    ax2.plot(traj[:, 0], "C0-", label="S (peerwell)")
    ax2.plot(traj[:, 1], "C3-", label="I (peerwell)")
    ax2.plot(mf[:, 0], "k--", lw=1, label="mean-field map")
    ax2.plot(mf[:, 1], "k--", lw=1)
    ax2.set_xlabel("day")
    ax2.set_ylabel("share")
    ax2.set_title(f"SIR trajectory, R0 = {c['params']['r0']}, N = {c['params']['population.size']}")
    ax2.legend(fontsize=8)
    return _save(fig, path)


def plot_endemic(cases: list[dict], path: Path, *, x: str, title: str) -> Path:
    """Endemic share against a parameter (SIS: R0; SISa: a), simulated vs the discrete map and
    the continuous-time answer, and one trajectory."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    xs = np.array([c["params"][x] for c in cases])
    curve = cases[0]["analytic"]["curve"]
    ax1.plot(curve["x"], curve["discrete"], "k-", label="exact discrete-time fixed point")
    ax1.plot(curve["x"], curve["continuous"], "k:", label=curve["continuous_label"])
    sim = [c["simulated"]["endemic_share"] for c in cases]
    err = [c["tolerance"] for c in cases]
    ax1.errorbar(xs, sim, yerr=err, fmt="o", color="C0", capsize=3, label="peerwell (± tolerance)")
    ax1.set_xlabel(x)
    ax1.set_ylabel("misled share at equilibrium")
    ax1.set_title(title)
    ax1.legend(fontsize=8)
    c = cases[-1]
    traj = np.asarray(c["simulated"]["trajectory"])
    ax2.plot(traj, "C0-", lw=0.8, label="I (peerwell)")
    ax2.axhline(c["analytic"]["endemic_share"], color="k", label="discrete fixed point")
    ax2.axhline(c["analytic"]["continuous"], color="k", ls=":", label="continuous time")
    ax2.axvspan(0, c["simulated"]["burn_in_days"], color="0.9", label="burn-in")
    ax2.set_xlabel("day")
    ax2.set_ylabel("misled share")
    ax2.set_title(f"{x} = {c['params'][x]}, N = {c['params']['population.size']}")
    ax2.legend(fontsize=8)
    return _save(fig, path)


def plot_rumor(cases: list[dict], path: Path) -> Path:
    """Share never reached against N (log scale), with θ and the ±4σ/√N band."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    theta = maki_thompson_theta()
    sd = maki_thompson_sd()
    ns = np.array(sorted({c["params"]["population.size"] for c in cases}))
    grid = np.geomspace(ns.min() * 0.7, ns.max() * 1.4, 100)
    ax.axhline(theta, color="k", label=f"Maki–Thompson θ = {theta:.4f}")
    ax.fill_between(grid, theta - 4 * sd / np.sqrt(grid), theta + 4 * sd / np.sqrt(grid),
                    color="0.85", label="θ ± 4σ/√N (Watson 1987)")  # fmt: skip
    for c in cases:
        n = c["params"]["population.size"]
        reps = c["simulated"]["never_reached_replicates"]
        ax.plot([n] * len(reps), reps, "o", color="C0", alpha=0.5, ms=4)
        ax.plot(n, c["analytic"]["discrete_map"], "_", color="C3", ms=14, mew=2)
    ax.plot([], [], "o", color="C0", label="peerwell replicates")
    ax.plot([], [], "_", color="C3", ms=14, mew=2, label="discrete-time map")
    ax.set_xscale("log")
    ax.set_xlabel("population N")
    ax.set_ylabel("share never reached")
    ax.set_title("Maki–Thompson rumour: share never reached")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_degroot(cases: list[dict], path: Path) -> Path:
    """Disagreement (max - min) over days against the predicted geometric decay, per network."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for j, c in enumerate(cases):
        spread = np.asarray(c["simulated"]["spread_trajectory"])
        t = np.arange(len(spread))
        rate = c["analytic"]["contraction_per_day"]
        col = f"C{j}"
        ax1.semilogy(t, spread, "-", color=col, label=f"{c['params']['network']} (peerwell)")
        ax1.semilogy(t, spread[0] * rate**t, ":", color=col, lw=1)
    ax1.plot([], [], "k:", label="λ₂ᵗ (second eigenvalue)")
    step = cases[0]["analytic"].get("peer_norm_resolution")
    if step:
        ax1.axhline(step, color="0.5", ls="--", lw=1, label="resolution of the peer norms")
    low = min(min(c["simulated"]["spread_trajectory"]) for c in cases)
    ax1.set_ylim(max(low / 10, 1e-16), 2)
    ax1.set_xlabel("day")
    ax1.set_ylabel("max − min self-stigma")
    ax1.set_title("DeGroot: disagreement decays")
    ax1.legend(fontsize=8)
    names = [c["params"]["network"] for c in cases]
    y = np.arange(len(cases))
    ax2.plot(
        [c["analytic"]["consensus"] for c in cases], y, "kx", ms=10, label="degree-weighted mean"
    )
    ax2.plot([c["simulated"]["consensus"] for c in cases], y, "o", mfc="none", color="C0", ms=12,
             label="peerwell consensus")  # fmt: skip
    ax2.plot([c["analytic"]["simple_mean"] for c in cases], y, "|", color="C3", ms=14,
             label="simple mean (not the answer)")  # fmt: skip
    ax2.set_yticks(y, names)
    ax2.set_xlabel("self-stigma")
    ax2.set_title("DeGroot: consensus value")
    ax2.legend(fontsize=8)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


PLOTTERS = {
    "sir": plot_sir,
    "sis": lambda cases, path: plot_endemic(cases, path, x="r0", title="SIS endemic share"),
    "sisa": lambda cases, path: plot_endemic(cases, path, x="a", title="SISa steady state"),
    "rumor": plot_rumor,
    "degroot": plot_degroot,
}


# ---------------------------------------------------------------------------------------------
# Report tables


def fmt(x, digits: int = 4) -> str:
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(x)
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(x):
            return "—"
        if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
            return f"{x:.2e}"
        return f"{x:.{digits}f}"
    return str(x)


def validation_rows(results: list[dict]) -> list[dict]:
    """The validation table: one row per case (model, parameters, simulated, exact and classic
    answers, |difference|, tolerance)."""
    rows = []
    for r in results:
        rows.append(
            {
                "model": r["model"],
                "parameters": r["label"],
                "N": r["params"].get("population.size"),
                "replicates": r["params"].get("replicates", 1),
                "quantity": r["quantity"],
                "simulated": r["simulated"][r["key"]],
                "analytic (exact)": r["analytic"][r["key"]],
                "classic": r["analytic"].get("classic"),
                "abs. difference": r["difference"],
                "tolerance": r["tolerance"],
                "within": r["within_tolerance"],
            }
        )
    return rows
