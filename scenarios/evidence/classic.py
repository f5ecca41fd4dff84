"""Validation: the production kernels, configured to the classic models' limits, against their
known answers (the `peerwell validate` job).

No validation-only dynamics: every run is a :class:`PeerwellModel` on the kernels the model
always runs, with parameters (``ModelParams`` overrides) that switch off everything a classic
model does not have. The mappings:

**Well-mixed feed** (SIR, SIS, SISa, rumour): one community, everyone online for good, no ties
(``network.mean_degree=0``: only the feed), everyone at the same social-media use u and reading
``exchange.read_rate = k/u`` posts a day, everyone posting one health post a day (all superusers
at posting rate 1, ``exchange.health_post_share=1``), no moderation, hostility or external
misinformation. The misleading share of the feed is then exactly I/N, and a susceptible is misled
with probability ``1 - exp(-β·k·I/N)``, β = ``exchange.misinfo_adoption``.

**Recovery** is correction by care alone: everyone in care for good, ``exchange.correction_clinician
= g``, no peer or moderator correction, no stifling: daily probability ``1 - exp(-g)``.

- SIR: ``misinfo_renewal=0``; β from R0 = β·k·E[D] (D geometric on {1, 2, ...}).
- SIS: ``misinfo_renewal=1`` and ``renewal_same_day=true``: a corrected person is open again, and
  can be misled, the same day (pure SIS). Compared with the textbook ``1 - 1/R0`` and with the
  exact daily map (ODD §7.6 derives the discrete-time correction and its step limit).
- SISa: as SIS plus external misleading content, ``communities.misinformation_prevalence=α``:
  hazard ``β_adopt·k·(α + (1-α)·I/N) = a + β·k·I/N`` with ``β_adopt = β + a/k``, ``α = a/(a+βk)``.
- Maki–Thompson rumour: no correction, ``exchange.stifling = β``: a spreader stops with hazard
  β·(posts met from people who know the claim), whose feed share is (I+R)/N.
- DeGroot: self-stigma with everything but peer norms off, ``stigma.peer_norm_weight = w``,
  everyone online in one community on a connected network: ``s' = s + w·(mean of tied s - s)``.

Initial spreaders are set in the state arrays before day 0's step (an exact count, chosen by a
seeded permutation), not drawn from ``population.initial_misinformed_share`` (a random count).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from peerwell.analysis import classic as A
from peerwell.analysis.tables import markdown_table
from peerwell.scenarios.experiments.replicates import replicate_seeds
from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import NETWORK_KINDS, SUBMODELS, ModelParams, with_overrides

if TYPE_CHECKING:  # the model (Mesa, the kernels) loads on the first run, after the checks
    from peerwell.simulation.model import PeerwellModel

USE = 0.5  # everyone's social-media use in the well-mixed limit (any value works: reads = k)
EXTINCTION_RISK = 1e-6  # SIR: seed enough spreaders that all chains die out early less often
RUMOR_SD_FACTOR = 1.15  # rumour: measured excess spread of the daily kernel over Watson's σ
STUCK_DAYS = 300  # DeGroot: stop when the disagreement has not shrunk by 1% for this many days


# ---------------------------------------------------------------------------------------------
# Parameter mappings


# Submodels a contagion on the belief kernel (misinformation) neither needs nor changes.
CONTAGION_IDLE = (
    "membership",
    "social",
    "activation",
    "care",
    "intervention",
    "wellbeing",
    "offline",
    "privacy",
)


def well_mixed_overrides(
    n: int,
    seed: int,
    *,
    k: float,
    adoption: float,
    g: float = 0.0,
    renewal: float = 0.0,
    same_day: bool = False,
    prevalence: float = 0.0,
    stifling: float = 0.0,
    correction: bool = True,
    steps: int = 100_000,
) -> dict[str, Any]:
    """``ModelParams`` overrides that make the misinformation kernel a well-mixed contagion.

    Parameters
    ----------
    n, seed : int
        Population size and root seed.
    k : float
        Posts read per day (the contacts drawn afresh each day).
    adoption : float
        Chance one misleading post read misleads (``exchange.misinfo_adoption``).
    g : float
        Daily recovery hazard (``exchange.correction_clinician``; everyone is in care).
    renewal : float
        Daily chance a corrected person turns susceptible (``exchange.misinfo_renewal``).
    same_day : bool
        ``exchange.renewal_same_day``: a renewed person can be misled the same day (pure SIS).
    prevalence : float
        External misleading share of the feed (``communities.misinformation_prevalence``).
    stifling : float
        ``exchange.stifling`` (Maki–Thompson).
    correction : bool
        ``mechanisms.correction``.
    steps : int
        Upper bound on days (runs stop early when the process is over).
    """
    return {
        "population.size": int(n),
        "seed": int(seed),
        "steps": int(steps),
        "record_every": 100_000,  # the validation reads the state arrays, not the recorder
        # one community, everyone in it for good
        "communities.count": 1,
        "communities.size": int(n),  # the simulated people are the whole community
        "population.initial_online_share": 1.0,
        "mechanisms.entry": False,
        "entry.leave_rate": 0.0,
        # no ties: the feed is the only contact, drawn afresh each day
        "network.kind": "sbm",
        "network.mean_degree": 0.0,
        # everyone reads k posts a day and writes one health post a day
        "population.social_media_use_concentration": 0.0,
        "population.social_media_use_mean": USE,
        "exchange.read_rate": k / USE,
        "population.share_superuser": 1.0,
        "population.share_contributor": 0.0,
        "population.post_rate_superuser": 1.0,
        # ... and keeps doing so: without this, superusers burn out to contributing (ODD §7.2) and
        # the posts, hence the contacts, thin out over the run (the SIS benchmark's endemic
        # share fell 0.012 below its Mesa twin's)
        "mechanisms.role_change": False,
        "exchange.health_post_share": 1.0,
        # a clean feed: no moderation, hostility or outside sources unless asked
        "communities.moderation": 0.0,
        "communities.hostility": 0.0,
        "communities.misinformation_prevalence": float(prevalence),
        "communities.peer_supporters": 0,
        # transmission and recovery
        "population.initial_misinformed_share": 0.0,
        "population.initial_corrected_share": 0.0,
        "exchange.misinfo_adoption": float(adoption),
        # the feed is the only source: nothing met outside it, every post taken at face value
        "mechanisms.offline_information": False,
        "mechanisms.trust": False,
        "mechanisms.correction": bool(correction),
        "population.share_in_care": 1.0,
        "population.share_seeking": 0.0,
        "population.share_disengaged": 0.0,
        "care.disengage_rate": 0.0,
        "care.completion_rate": 0.0,
        "exchange.correction_clinician": float(g),
        "exchange.correction_peer": 0.0,
        "exchange.correction_reply": 0.0,
        "exchange.correction_moderator": 0.0,
        "exchange.stifling": float(stifling),
        "exchange.misinfo_renewal": float(renewal),
        "exchange.renewal_same_day": bool(same_day),
        # Only what the contagion reads runs. Membership and care would not change anyway (no
        # entry or leaving; everyone stays in care); the others never reach the beliefs. So the
        # belief trajectories are those of the whole model, bit for bit (tests/test_submodels.py).
        **{f"submodels.{name}": False for name in CONTAGION_IDLE},
        "submodels.feed": k > 0,  # no feed read: only ties carry posts
        "mechanisms.peer_support": False,  # the support signal is read only by the social submodel
    }


def with_every_submodel(overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` with what ``well_mixed_overrides`` leaves out put back: every submodel and
    the support signal (the whole model's day, for timing it or checking it changes nothing)."""
    return {
        **overrides,
        **{f"submodels.{name}": True for name in SUBMODELS},
        "mechanisms.peer_support": True,
    }


def degroot_overrides(
    n: int,
    seed: int,
    *,
    network: str,
    w: float,
    mean_degree: float = 10.0,
    rewire: float = 0.1,
    path: str | None = None,
    steps: int = 100_000,
) -> dict[str, Any]:
    """``ModelParams`` overrides that make the stigma kernel lazy DeGroot averaging with weight w."""
    out = {
        "population.size": int(n),
        "seed": int(seed),
        "steps": int(steps),
        "record_every": 100_000,
        "communities.count": 1,
        "population.initial_online_share": 1.0,
        "mechanisms.entry": False,
        "entry.leave_rate": 0.0,
        "mechanisms.hostility": False,
        "mechanisms.privacy": False,  # a privacy harm would raise self-stigma
        "mechanisms.stigma_pathway": True,  # gates the peer-norm term
        "stigma.stigma_reduction": 0.0,
        "stigma.campaign_effect": 0.0,
        "stigma.stigma_relaxation": 0.0,
        "communities.anti_stigma_content": 0.0,
        "stigma.peer_norm_weight": float(w),
        "network.kind": network,
        "network.mean_degree": float(mean_degree),
        "network.rewire": float(rewire),
    }
    if path is not None:
        out["network.path"] = str(path)
    return out


def make_model(overrides: dict[str, Any]) -> PeerwellModel:
    from peerwell.simulation.model import PeerwellModel

    params = with_overrides(ModelParams(), overrides)
    return PeerwellModel(params, agent_views=False)


def seed_spreaders(model: PeerwellModel, count: int, seed: int) -> np.ndarray:
    """Make exactly ``count`` people misled at day 0 (a seeded permutation picks them)."""
    n = model.params.population.size
    if not 0 <= count <= n:
        raise ConfigError(
            f"seeds={count}: need between 0 and population.size={n} initial spreaders"
        )
    who = np.random.default_rng([seed, 0xC1A55]).permutation(n)[:count]
    model.state.cur["misinfo"][:] = 0
    model.state.cur["misinfo"][who] = 1
    return who


def _sir_counts(misinfo: np.ndarray) -> np.ndarray:
    """(S, I, R): people unaware (0), misled (1), corrected (2). Two comparisons instead of
    ``np.bincount``, which first copies the int8 states into a new int64 array every day."""
    i = np.count_nonzero(misinfo == 1)
    r = np.count_nonzero(misinfo == 2)
    return np.array([misinfo.shape[0] - i - r, i, r], dtype=np.int64)


def run_contagion(
    model: PeerwellModel, max_days: int, *, until_over: bool, min_days: int = 0
) -> np.ndarray:
    """Step the model; return the daily (S, I, R) counts from the state arrays, day 0 first.

    Stops when nobody is misled (``until_over``) after at least ``min_days``, or at ``max_days``.
    """
    rows = [_sir_counts(model.state.cur["misinfo"])]
    for day in range(max_days):
        model.step()
        counts = _sir_counts(model.state.cur["misinfo"])
        rows.append(counts)
        if until_over and counts[1] == 0 and day + 1 >= min_days:
            break
    return np.array(rows, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# The models


@dataclass
class Key:
    """One ``key=value`` parameter of a validation model."""

    default: Any
    cast: Callable[[str], Any]
    help: str


def _bool(text: str) -> bool:
    t = str(text).strip().lower()
    if t in ("true", "1", "yes"):
        return True
    if t in ("false", "0", "no"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


COMMON = {
    "seed": Key(3, int, "root seed (replicate seeds from SeedSequence(seed), as in compare)"),
    "replicates": Key(1, int, "independent runs averaged"),
}


@dataclass
class ValidationModel:
    name: str
    title: str
    keys: dict[str, Key]
    run: Callable[[dict], dict]
    table: list[dict] = field(default_factory=list)  # the cases of `peerwell validate all`

    def allowed(self) -> dict[str, Key]:
        return {**self.keys, **COMMON}


def _check_range(name: str, value: float, lo: float, hi: float, why: str = "") -> None:
    if not (lo <= value <= hi) or not math.isfinite(value):
        raise ConfigError(
            f"{name}={value} is out of range [{lo}, {hi}]{(': ' + why) if why else ''}"
        )


def _result(model, label, p, mapping, quantity, key, sim, ana, tol, basis, notes=()) -> dict:
    diff = abs(sim[key] - ana[key])
    return {
        "model": model,
        "label": label,
        "params": p,
        "mapping": mapping,
        "quantity": quantity,
        "key": key,
        "simulated": sim,
        "analytic": ana,
        "difference": diff,
        "tolerance": tol,
        "tolerance_basis": basis,
        "within_tolerance": bool(diff <= tol),
        "notes": list(notes),
    }


def run_sir(p: dict) -> dict:
    """SIR final size on the well-mixed feed against ``s∞ = s0·exp(-R0·(1-s∞))``."""
    n, r0, k, g = int(p["population.size"]), float(p["r0"]), float(p["k"]), float(p["g"])
    _check_range("r0", r0, 1.0 + 1e-9, 50.0, "the SIR final-size check needs R0 > 1")
    _check_range("g", g, 1e-6, 1.0, "exchange.correction_clinician")
    _check_range("k", k, 0.1, 500.0, "posts read per day")
    beta = A.beta_for_r0(r0, k, g)
    _check_range("beta = r0·(1-exp(-g))/k", beta, 0.0, 1.0, "exchange.misinfo_adoption; raise k")
    m = int(p["seeds"]) if p["seeds"] else A.spreaders_for(r0, g, EXTINCTION_RISK)
    mapping = well_mixed_overrides(n, p["seed"], k=k, adoption=beta, g=g, steps=p["steps"])
    finals, traj = [], None
    for s in replicate_seeds(int(p["seed"]), int(p["replicates"])):
        model = make_model({**mapping, "seed": s})
        seed_spreaders(model, m, s)
        counts = run_contagion(model, p["steps"], until_over=True)
        if counts[-1, 1] > 0:
            raise ConfigError(
                f"sir: still {counts[-1, 1]} spreaders after steps={p['steps']} days; raise steps"
            )
        finals.append(float((counts[-1, 1] + counts[-1, 2]) / n))
        traj = counts / n if traj is None else traj
    p_rec = A.recovery_probability(g)
    sd = A.sir_final_size_sd(r0, 1.0 - p_rec)
    reps = len(finals)
    tol = 4.0 * sd / math.sqrt(n * reps) + 1.0 / n
    sim = {
        "final_size": float(np.mean(finals)),
        "final_size_replicates": finals,
        "initial_spreaders": m,
        "days": len(traj) - 1,
        "trajectory": traj.tolist(),
    }
    ana = {
        "final_size": A.sir_final_size(r0, m / n),
        "classic": A.sir_final_size(r0),
        "r0": r0,
        "r0_finite_n": A.r0_finite(beta, k, g, n),
        "beta": beta,
        "mean_infectious_days": A.mean_infectious_days(g),
        "minor_outbreak_risk": A.minor_outbreak_probability(r0, g) ** m,
        "final_size_sd_sqrtN": sd,
        "trajectory": A.contagion_trajectory(
            m / n, len(traj) - 1, 0.0, beta * k, p_rec, 0.0
        ).tolist(),
    }
    basis = (
        f"4·σ/√(N·replicates) + 1/N with σ = {sd:.3f} (final-size CLT, Andersson & Britton 2000 "
        "Thm 4.2, cv² = 1-p of the geometric infectious period)"
    )
    notes = [
        f"R0 = {r0:g}: {m} initial spreaders (all chains die out early with probability "
        f"{ana['minor_outbreak_risk']:.1e}); exact answer with them {ana['final_size']:.4f}, "
        f"classic z = 1 - exp(-R0 z) {ana['classic']:.4f}; final-size SD·√N = {sd:.3f}",
    ]
    return _result("sir", f"R0={r0:g}", p, mapping, "final share ever misled", "final_size",
                   sim, ana, tol, basis, notes)  # fmt: skip


def _endemic(p: dict, *, model: str, a: float, beta_k: float, k: float, g: float, label: str,
             curve: dict) -> dict:  # fmt: skip
    """Shared SIS/SISa run: pure SIS(a) (a corrected person open again the same day), started at
    the fixed point, burnt in, the misled share averaged over a window; compared with the exact
    daily map and with the textbook (continuous-time) steady state."""
    n = int(p["population.size"])
    p_rec = A.recovery_probability(g)
    hazard = a + beta_k  # B = β_adopt·k
    adoption = hazard / k
    _check_range(
        "adoption per post (a/k + beta)", adoption, 0.0, 1.0, "exchange.misinfo_adoption; raise k"
    )
    prevalence = a / hazard if hazard > 0 else 0.0
    star = A.sis_discrete(a, beta_k, p_rec)
    textbook = A.sis_textbook(a, beta_k, p_rec)
    lna = A.sis_lna(a, beta_k, p_rec, n)
    burn = math.ceil(10 * lna["tau"]) if math.isfinite(lna["tau"]) else 1000
    window = int(p["days"])
    if burn + window > p["steps"]:
        raise ConfigError(f"{model}: burn-in {burn} + days={window} exceed steps={p['steps']}")
    mapping = well_mixed_overrides(n, p["seed"], k=k, adoption=adoption, g=g, renewal=1.0,
                                   same_day=True, prevalence=prevalence, steps=p["steps"])  # fmt: skip
    means, traj = [], None
    for s in replicate_seeds(int(p["seed"]), int(p["replicates"])):
        mdl = make_model({**mapping, "seed": s})
        seed_spreaders(mdl, round(star * n), s)
        counts = run_contagion(mdl, burn + window, until_over=False)
        i = counts[:, 1] / n
        if a == 0 and i[-1] == 0:
            raise ConfigError(f"{model}: the process died out (N too small for this R0)")
        means.append(float(i[burn + 1 :].mean()))
        traj = i if traj is None else traj
    reps = len(means)
    se = math.sqrt(lna["lrv"] / (window * reps))
    tol = 4.0 * se + 1.0 / n
    mean = float(np.mean(means))
    sim = {
        "endemic_share": mean,
        "endemic_share_replicates": means,
        "burn_in_days": burn,
        "window_days": window,
        "trajectory": traj.tolist(),
    }
    ana = {
        "endemic_share": star,
        "classic": textbook,
        "continuous": textbook,
        "continuous_label": "textbook (continuous-time) steady state",
        "first_order": A.sis_first_order(a, beta_k, p_rec),
        "step_limit": A.sis_step_limit(a, beta_k, p_rec),
        "recovery_probability": p_rec,
        "adoption_per_post": adoption,
        "external_share": prevalence,
        "stationary_sd": lna["sd"],
        "relaxation_days": lna["tau"],
        "curve": curve,
    }
    basis = (
        f"4·√(LRV/(days·replicates)) + 1/N = 4·{se:.2e} + 1/N: the time average's SE from the "
        f"linear-noise approximation of the kernel's binomial transitions (stationary SD {lna['sd']:.4f}, "
        f"relaxation {lna['tau']:.1f} days)"
    )
    notes = [
        f"textbook {textbook:.4f}; exact daily map {star:.4f} (first order in the step "
        f"{ana['first_order']:.4f}): the gap {star - textbook:+.4f} is the daily chance "
        "1 − e^−H < H of being misled, not noise; it shrinks with the step (ODD §7.6)",
    ]
    out = _result(model, label, p, mapping, "misled share at equilibrium (time average)",
                  "endemic_share", sim, ana, tol, basis, notes)  # fmt: skip
    ci = [mean - tol, mean + tol]
    out.update(
        expected_textbook=textbook,
        expected_discrete=star,
        simulated_ci=ci,
        within=bool(ci[0] <= star <= ci[1]),
        textbook_within=bool(ci[0] <= textbook <= ci[1]),
    )
    return out


def run_sis(p: dict) -> dict:
    """Pure SIS endemic share against 1 - 1/R0 and the exact discrete-time fixed point."""
    r0, k, g = float(p["r0"]), float(p["k"]), float(p["g"])
    if not r0 > 1.0:
        raise ConfigError(
            f"sis: r0={r0} has no endemic state (the misled share dies out when R0 <= 1); give r0 > 1"
        )
    _check_range("r0", r0, 1.0, 50.0)
    _check_range("g", g, 1e-6, 1.0, "exchange.correction_clinician")
    _check_range("k", k, 0.1, 500.0, "posts read per day")
    p_rec = A.recovery_probability(g)
    beta = A.beta_for_r0(r0, k, g)
    grid = np.linspace(1.05, max(4.0, r0 * 1.2), 60)
    curve = {
        "x": grid.tolist(),
        "discrete": [A.sis_discrete(0.0, x * p_rec, p_rec) for x in grid],
        "continuous": (1.0 - 1.0 / grid).tolist(),
        "continuous_label": "textbook 1 − 1/R0",
    }
    out = _endemic(p, model="sis", a=0.0, beta_k=beta * k, k=k, g=g, label=f"R0={r0:g}, g={g:g}",
                   curve=curve)  # fmt: skip
    out["analytic"]["beta"] = beta
    out["analytic"]["r0"] = r0
    out["analytic"]["r0_for_simulated_share"] = A.sis_r0_for_share(
        out["simulated"]["endemic_share"], p_rec
    )
    return out


def run_sisa(p: dict) -> dict:
    """Pure SISa steady state against Hill et al.'s quadratic and the exact discrete map."""
    a, beta, g, k = float(p["a"]), float(p["beta"]), float(p["g"]), float(p["k"])
    _check_range("a", a, 0.0, 5.0, "spontaneous adoption per day")
    _check_range("beta", beta, 0.0, 1.0, "transmission per contact")
    _check_range("g", g, 1e-6, 1.0, "exchange.correction_clinician")
    _check_range("k", k, 0.1, 500.0, "contacts (posts read) per day")
    p_rec = A.recovery_probability(g)
    if a == 0 and beta * k <= p_rec:
        raise ConfigError(
            "sisa: with a=0 and beta·k·E[D] <= 1 there is no endemic state; give a > 0"
        )
    grid = np.linspace(0.0, max(0.05, a * 1.5), 60)
    curve = {
        "x": grid.tolist(),
        "discrete": [A.sis_discrete(x, beta * k, p_rec) for x in grid],
        "continuous": [A.sis_textbook(x, beta * k, p_rec) for x in grid],
        "continuous_label": "Hill et al. (a + βkI)(1 − I) − γI = 0, γ = 1 − e^−g",
    }
    return _endemic(p, model="sisa", a=a, beta_k=beta * k, k=k, g=g,
                    label=f"a={a:g}, beta={beta:g}, g={g:g}, k={k:g}", curve=curve)  # fmt: skip


def run_rumor(p: dict) -> dict:
    """Maki–Thompson rumour: share never reached against θ (and the discrete-time map)."""
    n, beta, k, m = int(p["population.size"]), float(p["beta"]), float(p["k"]), int(p["seeds"])
    _check_range("beta", beta, 1e-6, 1.0, "exchange.misinfo_adoption = exchange.stifling")
    _check_range("k", k, 0.1, 500.0, "posts read per day")
    _check_range("seeds", m, 1, max(1, n // 100), "initial spreaders: one or a few")
    mapping = well_mixed_overrides(n, p["seed"], k=k, adoption=beta, stifling=beta,
                                   correction=False, steps=p["steps"])  # fmt: skip
    never, traj = [], None
    for s in replicate_seeds(int(p["seed"]), int(p["replicates"])):
        model = make_model({**mapping, "seed": s})
        seed_spreaders(model, m, s)
        counts = run_contagion(model, p["steps"], until_over=True)
        if counts[-1, 1] > 0:
            raise ConfigError(f"rumor: still spreading after steps={p['steps']} days; raise steps")
        never.append(float(counts[-1, 0] / n))
        traj = counts / n if traj is None else traj
    reps = len(never)
    sd = A.maki_thompson_sd()
    # Watson's σ is for the textbook jump chain; peerwell's daily, pull-based version spreads a
    # little more: 30 replicates at N = 5000 gave SD·√N = 0.573 against σ = 0.522. Hence 1.15·σ.
    tol = 4.0 * RUMOR_SD_FACTOR * sd / math.sqrt(n * reps) + 1.0 / n
    theta_map = A.rumour_map_theta(beta * k, m / n)
    sim = {
        "never_reached": float(np.mean(never)),
        "never_reached_replicates": never,
        "initial_spreaders": m,
        "days": len(traj) - 1,
        "trajectory": traj.tolist(),
    }
    ana = {
        "never_reached": theta_map,
        "discrete_map": theta_map,
        "classic": A.maki_thompson_theta(),
        "sd_sqrtN": sd,
    }
    basis = (
        f"4·{RUMOR_SD_FACTOR}·σ/√(N·replicates) + 1/N with σ² = θ(1-θ)/(1-2θ) = {sd**2:.3f} "
        "(Watson 1987; ×1.15 measured for the daily pull-based kernel); "
        "the analytic value is the exact discrete-time map (β·k per day), θ = 0.2032 its β·k → 0 limit"
    )
    notes = [
        f"Maki–Thompson θ = {ana['classic']:.4f}; the daily steps (β·k = {beta * k:g} per day) move "
        f"the exact answer to {theta_map:.4f}",
    ]
    return _result("rumor", f"beta=stifling={beta:g}, k={k:g}", p, mapping, "share never reached",
                   "never_reached", sim, ana, tol, basis, notes)  # fmt: skip


def peer_norm_resolution(value: float) -> tuple[float, str]:
    """How finely the exchange kernel sees a neighbour's self-stigma near ``value``.

    The peer-norm gather reads self-stigma from a packed per-person tag (``kernels.pack_kernel``):
    quantised to ``1/STIGMA_LEVELS`` when the kernels define that constant, else as float32 (4 ulp).
    """
    from peerwell.simulation import kernels

    levels = getattr(kernels, "STIGMA_LEVELS", None)
    if levels:
        return 1.0 / levels, f"quantised to steps of 1/{levels}"
    return 4.0 * float(np.spacing(np.float32(value))), "float32, 4 ulp"


def run_degroot(p: dict) -> dict:
    """Lazy DeGroot averaging of self-stigma: consensus against the degree-weighted mean."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n, w, kind = int(p["population.size"]), float(p["w"]), str(p["network"])
    if kind not in NETWORK_KINDS:
        raise ConfigError(f"network={kind!r} is unknown; choose one of {list(NETWORK_KINDS)}")
    _check_range("w", w, 1e-6, 1.0, "stigma.peer_norm_weight")
    if kind in ("edgelist", "graphml") and not p.get("network.path"):
        raise ConfigError(f"network={kind} needs network.path=/path/to/file")
    mapping = degroot_overrides(n, p["seed"], network=kind, w=w,
                                mean_degree=p["network.mean_degree"], rewire=p["network.rewire"],
                                path=p.get("network.path"), steps=p["steps"])  # fmt: skip
    model = make_model(mapping)
    g = model.graph
    A_ = csr_matrix((np.ones(len(g.indices)), g.indices, g.indptr), shape=(n, n))
    parts, _ = connected_components(A_, directed=False)
    if parts != 1:
        raise ConfigError(
            f"degroot: the {kind} network has {parts} connected components; DeGroot averaging "
            "reaches one consensus only on a connected graph (raise network.mean_degree)"
        )
    x0 = model.state.cur["stigma"].copy()
    degree = g.degree()
    consensus = A.degroot_consensus(x0, degree)
    pi = degree / degree.sum()
    resolution, seen_as = peer_norm_resolution(consensus)
    tol = 4.0 * resolution
    spread = [float(x0.max() - x0.min())]
    best, since = spread[0], 0
    for _ in range(p["steps"]):
        model.step()
        x = model.state.cur["stigma"]
        spread.append(float(x.max() - x.min()))
        if spread[-1] <= 1.5 * resolution:  # one rounding step apart: agreement as seen
            break
        # Stuck: quantised averaging can stop a few quanta short of full agreement.
        best, since = (spread[-1], 0) if spread[-1] < 0.99 * best else (best, since + 1)
        if since >= STUCK_DAYS:
            break
    x = model.state.cur["stigma"]
    rate = A.degroot_rate(g.indptr, g.indices, w)
    sim = {
        "consensus": float(x.mean()),
        "max_deviation": float(np.abs(x - consensus).max()),
        "spread": spread[-1],
        "conservation_error": abs(float(np.dot(pi, x)) - consensus),
        "days": len(spread) - 1,
        "spread_trajectory": spread,
    }
    ana = {
        "consensus": consensus,
        "classic": consensus,
        "simple_mean": float(x0.mean()),
        "peer_norm_resolution": resolution,
        "contraction_per_day": rate,
        "days_predicted": math.log(tol / spread[0]) / math.log(rate) if 0 < rate < 1 else None,
    }
    basis = (
        f"4 × {resolution:.2e}, the resolution at which the exchange kernel sees neighbours' "
        f"self-stigma ({seen_as}): π·x (π = degree/Σdegree) is conserved exactly in exact "
        "arithmetic, so only that rounding separates the answer from the degree-weighted mean; "
        "every person must end within the tolerance of it (a fixed point of rounded averaging can "
        "keep neighbours a few steps apart)"
    )
    out = _result("degroot", f"network={kind}, w={w:g}", p, mapping,
                  "consensus self-stigma", "consensus", sim, ana, tol, basis)  # fmt: skip
    out["within_tolerance"] = bool(sim["max_deviation"] <= tol)
    out["notes"].append(
        f"degree-weighted mean {consensus:.6f} vs simple mean {ana['simple_mean']:.6f}; "
        f"disagreement contracts by λ₂ = {rate:.4f} a day"
    )
    return out


MODELS: dict[str, ValidationModel] = {
    "sir": ValidationModel(
        "sir",
        "SIR final size (well-mixed feed)",
        {
            "r0": Key(1.8, float, "basic reproduction number R0 = β·k·E[D] (> 1)"),
            "k": Key(10.0, float, "posts read per day (contacts drawn afresh each day)"),
            "g": Key(0.2, float, "daily correction hazard (recovery probability 1 - e^-g)"),
            "seeds": Key(0, int, "initial spreaders; 0 = enough that early extinction risk < 1e-6"),
            "population.size": Key(20_000, int, "N"),
            "steps": Key(20_000, int, "at most this many days"),
        },
        run_sir,
        [{"r0": r, "replicates": 3} for r in (1.3, 1.8, 2.5, 4.0)],
    ),
    "sis": ValidationModel(
        "sis",
        "SIS endemic share (well-mixed feed)",
        {
            "r0": Key(2.0, float, "R0 = β·k·E[D] (> 1)"),
            "k": Key(10.0, float, "posts read per day"),
            "g": Key(0.05, float, "daily correction hazard"),
            "days": Key(2000, int, "days averaged after the burn-in"),
            "population.size": Key(20_000, int, "N"),
            "steps": Key(20_000, int, "at most this many days (burn-in + days)"),
        },
        run_sis,
        [{"r0": r} for r in (1.5, 2.0, 3.0)],
    ),
    "sisa": ValidationModel(
        "sisa",
        "SISa steady state, Hill et al. 2010 (well-mixed feed)",
        {
            "a": Key(0.01, float, "spontaneous adoption per day (external misleading sources)"),
            "beta": Key(0.01, float, "adoption per contact (misleading post read)"),
            "g": Key(0.05, float, "daily recovery hazard"),
            "k": Key(10.0, float, "contacts (posts read) per day"),
            "days": Key(2000, int, "days averaged after the burn-in"),
            "population.size": Key(20_000, int, "N"),
            "steps": Key(20_000, int, "at most this many days (burn-in + days)"),
        },
        run_sisa,
        [{"a": a} for a in (0.002, 0.01, 0.04)],
    ),
    "rumor": ValidationModel(
        "rumor",
        "Maki–Thompson rumour (well-mixed feed)",
        {
            "beta": Key(0.005, float, "adoption = stifling per post met"),
            "k": Key(4.0, float, "posts read per day"),
            "seeds": Key(1, int, "initial spreaders (one or a few)"),
            "population.size": Key(20_000, int, "N"),
            "steps": Key(50_000, int, "at most this many days"),
        },
        run_rumor,
        [{"population.size": n, "replicates": 4} for n in (1000, 4000, 16000, 64000)],
    ),
    "degroot": ValidationModel(
        "degroot",
        "DeGroot averaging of self-stigma (peer norms)",
        {
            "network": Key("barabasi_albert", str, "one of " + ", ".join(NETWORK_KINDS)),
            "w": Key(0.5, float, "stigma.peer_norm_weight (lazy DeGroot weight)"),
            "network.mean_degree": Key(10.0, float, "mean ties per person (generated networks)"),
            "network.rewire": Key(0.1, float, "watts_strogatz rewiring probability"),
            "network.path": Key(None, str, "edgelist/graphml file"),
            "population.size": Key(2000, int, "N"),
            "steps": Key(20_000, int, "at most this many days"),
        },
        run_degroot,
        [
            {"network": "barabasi_albert"},
            {"network": "watts_strogatz", "network.rewire": 0.2},
            {"network": "complete", "population.size": 800},
        ],
    ),
}


def resolve(model: str, given: dict[str, str]) -> dict:
    """The model's parameters: its defaults updated with ``given`` (strings are cast).

    Raises
    ------
    ConfigError
        Unknown model, a key the model does not take, or a value of the wrong type.
    """
    if model not in MODELS:
        raise ConfigError(
            f"unknown validation model {model!r}; choose one of: {', '.join(MODELS)}, all"
        )
    spec = MODELS[model].allowed()
    out = {k: v.default for k, v in spec.items()}
    for key, value in given.items():
        if key not in spec:
            raise ConfigError(
                f"model={model} takes no parameter {key!r}; it takes: {', '.join(spec)} "
                "(and output_dir)"
            )
        try:
            out[key] = spec[key].cast(value) if isinstance(value, str) else value
        except (TypeError, ValueError):
            raise ConfigError(
                f"{key}={value!r}: expected {spec[key].cast.__name__} ({spec[key].help})"
            ) from None
    return out


def validate_model(model: str, given: dict[str, Any] | None = None) -> dict:
    """Run one validation case; returns the result dict (see :func:`_result`)."""
    p = resolve(model, dict(given or {}))
    t0 = time.perf_counter()
    out = MODELS[model].run(p)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def validate_all(
    overrides: dict[str, Any] | None = None, *, scale: float = 1.0, notify=print
) -> list[dict]:
    """Every case of the table (``ValidationModel.table``).

    ``overrides`` (e.g. ``{"seed": 5}``) apply to every case that takes them; ``scale`` multiplies
    every case's population (not below 200) for a quick look.
    """
    results = []
    for name, vm in MODELS.items():
        for case in vm.table:
            given = {**case, **{k: v for k, v in (overrides or {}).items() if k in vm.allowed()}}
            if scale != 1.0:
                n = given.get("population.size", vm.keys["population.size"].default)
                given["population.size"] = max(200, round(n * scale))
            res = validate_model(name, given)
            notify(
                f"{name:8s} {res['label']:38s} N={res['params']['population.size']:<6d} "
                f"simulated {A.fmt(res['simulated'][res['key']])}  "
                f"analytic {A.fmt(res['analytic'][res['key']])}  |diff| {A.fmt(res['difference'])}  "
                f"tol {A.fmt(res['tolerance'])}  {'ok' if res['within_tolerance'] else 'OUTSIDE'}  "
                f"({res['seconds']} s)"
            )
            results.append(res)
    return results


def strip_trajectories(res: dict) -> dict:
    """A copy without the long per-day arrays (for tables)."""
    out = dict(res)
    out["simulated"] = {k: v for k, v in res["simulated"].items() if "trajector" not in k}
    out["analytic"] = {
        k: v for k, v in res["analytic"].items() if "trajector" not in k and k != "curve"
    }
    return out


def figures(results: list[dict], folder: Path) -> dict[str, Path]:
    """One figure per model (``<model>.png``) from the results of :func:`validate_all`."""
    folder = Path(folder)
    out = {}
    for name in MODELS:
        cases = [r for r in results if r["model"] == name]
        if cases:
            out[name] = A.PLOTTERS[name](cases, folder / f"{name}.png")
    return out


# ---------------------------------------------------------------------------------------------
# Reports


MAPPING_TEXT = {
    "sir": "well-mixed feed (k posts read a day, drawn afresh), correction by care at hazard g, "
    "`exchange.misinfo_renewal=0`; β = R0·(1−e^−g)/k",
    "sis": "as SIR with `exchange.misinfo_renewal=1` and `exchange.renewal_same_day=true` (a "
    "corrected person can be misled again the same day: pure SIS)",
    "sisa": "as SIS plus `communities.misinformation_prevalence = a/(a+βk)` and "
    "`exchange.misinfo_adoption = β + a/k`: hazard a + βk·I/N",
    "rumor": "well-mixed feed, no correction, `exchange.stifling = exchange.misinfo_adoption = β`, "
    "one initial spreader",
    "degroot": "self-stigma with only peer norms on (`stigma.peer_norm_weight = w`), everyone in "
    "one community on a connected network",
}


MODEL_NOTES = {
    "sir": "The final size counts the initial spreaders. They are an exact number m, chosen so that "
    "all their chains die out early with probability below 1e-6; the exact answer solves "
    "s = s0·exp(−R0(1−s)) with s0 = 1 − m/N, the classic z = 1 − exp(−R0·z) is its m/N → 0 limit.",
    "sis": "Each run starts at the fixed point, burns in for 10 relaxation times, then averages the "
    "misled share over `days` days. The exact answer is the fixed point of the daily map "
    "p·i = (1−i)(1−e^(−R0·p·i)), p = 1−e^−g; the textbook 1 − 1/R0 is its limit as the step "
    "shrinks, i* ≈ (1 − 1/R0)(1 − p/2) (ODD §7.6).",
    "sisa": "Each run starts at the fixed point, burns in for 10 relaxation times, then averages the "
    "misled share over `days` days; a is the hazard from external misleading content.",
    "degroot": "The exchange kernel reads neighbours' self-stigma in steps of 1/16383 "
    "(kernels.STIGMA_LEVELS): on small-world networks the disagreement stops within a few steps "
    "(the plateaux in the figure); on a ring of 300 with sparse chords (diameter 20) it freezes "
    "21 steps wide, 1.3e-3 (tests/test_validation.py records it).",
}


def _validation_sections(
    results: list[dict], figures_rel: dict[str, str], heading: str
) -> list[str]:
    rows = A.validation_rows(results)
    columns = list(rows[0])
    out = [markdown_table(columns, [[A.fmt(r.get(c, "")) for c in columns] for r in rows])]
    out.append(
        "*simulated*: peerwell's kernels; *analytic (exact)*: the known answer for the discrete-time "
        "(daily) process the kernels run, in the large-N limit; *classic*: the textbook "
        "continuous-time answer (SIR: z = 1 − exp(−R0·z) with no initial spreaders; SIS: 1 − 1/R0; "
        "SISa: the ODE's steady state; rumour: θ = 0.2032; DeGroot: the same as exact).\n"
    )
    for name, vm in MODELS.items():
        cases = [r for r in results if r["model"] == name]
        if not cases:
            continue
        out.append(f"{heading} {vm.title}\n")
        out.append(f"Mapping: {MAPPING_TEXT[name]}.\n")
        out.append(
            f"Tolerance (numbers of the first row; the table gives each row's): "
            f"{cases[0]['tolerance_basis']}.\n"
        )
        notes = [MODEL_NOTES[name]] if name in MODEL_NOTES else []
        notes += list(dict.fromkeys(n for c in cases for n in c["notes"]))
        for n in notes[:6]:
            out.append(f"- {n}")
        if name in figures_rel:
            out.append(f"\n![{name}]({figures_rel[name]})\n")
    return out


def report_markdown(results: list[dict], figures_rel: dict[str, str], *, command: str = "") -> str:
    """``validation.md`` of `peerwell validate all`."""
    lines = ["# peerwell validation against classic models\n"]
    if command:
        lines.append(f"Produced by `{command}`.\n")
    lines += _validation_sections(results, figures_rel, "##")
    return "\n".join(lines) + "\n"


def docs_markdown(
    results: list[dict], figures_rel: dict[str, str], calibration: dict, *, command: str = ""
) -> str:
    """``docs/validation.md``: the validation table and figures, then the calibration table."""
    from peerwell.scenarios.evidence import calibrate as C

    lines = [
        "# Validation and calibration",
        "",
        "<!-- Generated; do not edit by hand. Regenerate with:",
        "     peerwell validate all docs=docs/validation.md -->",
        "",
        "How do we know peerwell is right? Two ways. Its kernels, switched to the limits of classic "
        "models, reproduce textbook results nobody here wrote (§1); and its baseline reproduces the "
        "empirical facts of the model brief (§2). The model itself is described in "
        "[ODD.md](ODD.md); the mappings below use only its parameters — no validation-only code.",
        "",
        f"Regenerated by `{command or 'peerwell validate all docs=docs/validation.md'}` "
        f"({calibration['created'][:10]}).",
        "",
        "## 1. Classic models",
        "",
        "`peerwell validate model=MODEL key=value ...` runs one case (`peerwell validate --help` "
        "lists the models and their parameters); `peerwell validate all` runs this table.",
        "",
    ]
    lines += _validation_sections(results, figures_rel, "###")
    n_out = len(calibration["outside"])
    lines += [
        "",
        "## 2. Calibration: the baseline against the anchors",
        "",
        f"`peerwell calibrate` ({len(calibration['seeds'])} replicates, N = "
        f"{calibration['population_size']}, {calibration['steps']} days; "
        f"{sum(1 for r in calibration['rows'] if r['within'])} of {len(calibration['rows'])} anchors "
        f"within tolerance{'' if not n_out else ', outside: ' + ', '.join(calibration['outside'])}).",
        "Within tolerance means the mean over replicates lies in the tolerance interval; the 95% CI "
        "is over replicates (common random numbers across scenarios).",
        "",
        C.table_markdown(calibration["rows"]),
        "### Why each tolerance",
        "",
        C.basis_markdown(calibration["rows"]),
        "### Anchors not checked",
        "",
        C.not_checked_markdown(),
        "### Fitting",
        "",
        "`peerwell calibrate fit=true` fits "
        + ", ".join(f"`{f.name}`" for f in C.FIT_PARAMS)
        + " to the two-sided anchors (scipy.optimize.least_squares, residuals in units of each "
        "anchor's standard error; a local search from the current values and from Latin-hypercube "
        "points, `starts=2` by default), reports each value with its standard error from the "
        "Jacobian at the optimum, and writes `OUTPUT_DIR/scenario/calibrated.yaml`, run with "
        "`peerwell run --config-dir OUTPUT_DIR scenario=calibrated` and checked with "
        "`peerwell calibrate config=OUTPUT_DIR/scenario/calibrated.yaml`.",
        "",
    ]
    return "\n".join(lines) + "\n"
