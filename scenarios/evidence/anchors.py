"""The empirical anchors of the model brief, typed once.

``FINDINGS`` holds every number a study reports that the model is set against: the value as the
study gives it, its source and, where the interval comes from sampling, its sample. Everything
else reads it from there:

- :func:`anchors`: the calibration targets of ``peerwell calibrate`` (``calibrate.py``), each with
  what the model measures, where, and the tolerance with the reason for it. Most tolerances are
  the anchor's own sampling uncertainty (the 95% interval of the study's estimate); where studies
  disagree, the span of their estimates; where the anchor gives only a direction, the sign. A few
  are judgement and say so;
- :func:`anchor_checks`: the anchors the parameters determine by themselves (no simulation),
  rendered into ``docs/ODD.md`` by ``paramdoc.py``;
- ``NOT_CHECKED``: the anchors the model takes as inputs or cannot express;
- ``tests/test_anchors.py``: the baseline year against the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import DIAGNOSES, ModelParams
from peerwell.simulation.recorder import PAM_CUTS

Z95 = 1.959964

# ---------------------------------------------------------------------------------------------
# The findings


@dataclass(frozen=True)
class Finding:
    """One number an empirical study reports, as the study reports it.

    ``value`` is a share (0.417), a mean (57.4 PAM points) or a bound; ``n`` the sample it was
    observed in and ``count`` the events among them, where the source gives them (the interval of
    a share comes from them); ``sd`` the sample's SD, for a mean.
    """

    value: float
    source: str
    n: int | None = None
    count: int | None = None
    sd: float | None = None

    def pct(self, digits: int = 1) -> str:
        return f"{100 * self.value:.{digits}f}%"


FINDINGS: dict[str, Finding] = {
    # P1: people with SMI who use social media (three surveys, pooled below).
    "online_naslund": Finding(0.71, "Naslund 2016", n=70),
    "online_brunette": Finding(0.679, "Brunette 2019", n=403),
    "online_aschbrenner": Finding(0.72, "Aschbrenner 2018", n=195),
    # P3: participation inequality in four online health networks (63,990 users).
    "ever_posted_max": Finding(0.25, "van Mierlo 2014", n=63_990),
    "content_lurker": Finding(0.013, "van Mierlo 2014", n=63_990),
    "content_contributor": Finding(0.240, "van Mierlo 2014", n=63_990),
    "content_superuser": Finding(0.747, "van Mierlo 2014", n=63_990),
    # P5: PAM-MH means by diagnosis (mean, SD, n).
    "pam_schizophrenia": Finding(57.4, "Forma 2021", n=43, sd=10.4),
    "pam_bipolar": Finding(66.6, "Forma 2021", n=59, sd=17.5),
    "pam_depression": Finding(55.4, "Forma 2021", n=34, sd=14.6),
    # P4: PAM level shares of US adults (a contrast population).
    "us_pam_L1": Finding(0.068, "Hibbard 2007"),
    "us_pam_L2": Finding(0.146, "Hibbard 2007"),
    "us_pam_L3": Finding(0.372, "Hibbard 2007"),
    "us_pam_L4": Finding(0.414, "Hibbard 2007"),
    # P7: moderate/high self-stigma.
    "stigma_schizophrenia": Finding(0.417, "Brohan 2010", n=1229),
    "stigma_smi": Finding(0.313, "Dubreucq 2021", n=25_458),
    # P8: pejorative tweets about psychosis vs tweets about physical illnesses (public content about
    # an illness, not hostile replies to people with it; it sets exchange.psychosis_hostility, so the
    # hostility_ratio anchor reads back an input).
    "pejorative_psychosis": Finding(0.362, "Alvarez-Mon 2019", n=636, count=231),
    "pejorative_other": Finding(0.113, "Alvarez-Mon 2019", n=7419, count=840),
    # P9: misleading posts and their correction.
    "false_posts": Finding(10 / 4600, "Esquivel 2006", n=4600, count=10),
    # Knoepke 2018: 20 of 82 pieces of advice on a message board for implanted-defibrillator
    # patients inappropriate for most patients (a cardiac community, advice not posts).
    "inappropriate_advice": Finding(0.244, "Knoepke 2018", n=82, count=20),
    "corrected_within_hours": Finding(0.7, "Esquivel 2006", n=10, count=7),
    # P10: moderated online social therapy, logged on after 6 and 9 months.
    "horyzons_6m": Finding(0.555, "HORYZONS RCT", n=86),
    "horyzons_9m": Finding(0.470, "HORYZONS RCT", n=86),
}

ONLINE = ("online_naslund", "online_brunette", "online_aschbrenner")
ROLES = ("lurker", "contributor", "superuser")
HORYZONS = ((6, "horyzons_6m"), (9, "horyzons_9m"))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def pooled_online() -> tuple[float, int]:
    """The share online pooled over the three surveys, and their total n."""
    surveys = [FINDINGS[k] for k in ONLINE]
    n = sum(f.n for f in surveys)
    total = 0.0  # left to right, not sum(): Python 3.12's compensated sum moves the last digit
    for f in surveys:
        total += f.value * f.n
    return total / n, n


def pejorative_ratio() -> float:
    """Psychosis vs other diseases, as the study's percentages give it."""
    return FINDINGS["pejorative_psychosis"].value / FINDINGS["pejorative_other"].value


def us_pam_levels() -> str:
    return "/".join(f"{100 * FINDINGS[f'us_pam_L{k}'].value:.1f}" for k in range(1, 5)) + "%"


def content_shares() -> str:
    return "/".join(f"{100 * FINDINGS[f'content_{r}'].value:.1f}" for r in ROLES) + "%"


# ---------------------------------------------------------------------------------------------
# Interval helpers (the anchors' sampling uncertainty)


def wilson(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson 95% interval of a proportion p observed in n."""
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return centre - half, centre + half


def mean_ci(mean: float, sd: float, n: int, z: float = Z95) -> tuple[float, float]:
    """95% interval of a study mean (normal)."""
    half = z * sd / math.sqrt(n)
    return mean - half, mean + half


def ratio_ci(a: int, n1: int, b: int, n2: int, z: float = Z95) -> tuple[float, float, float]:
    """Ratio of two proportions a/n1 ÷ b/n2 with its log-normal 95% interval."""
    rr = (a / n1) / (b / n2)
    se = math.sqrt(1 / a - 1 / n1 + 1 / b - 1 / n2)
    return rr, rr * math.exp(-z * se), rr * math.exp(z * se)


def pam_level_intervals(mix: Sequence[float], draws: int = 4000, seed: int = 20210301) -> dict:
    """PAM level shares implied by the PAM-MH means and SDs, with 95% parametric-bootstrap bounds.

    Scores are normal by diagnosis (the model's own assumption), mixed by the model's diagnosis
    mix and cut at the PAM cut-points. The bootstrap draws each study mean from N(m, SD²/n) and
    each SD from SD·√(χ²_{n-1}/(n-1)); the seed is fixed, so the bounds are reproducible.
    """
    pam = [FINDINGS[f"pam_{d}"] for d in DIAGNOSES]
    m = np.array([f.value for f in pam])
    s = np.array([f.sd for f in pam])
    n = np.array([f.n for f in pam])
    w = np.asarray(mix, dtype=float)
    cuts = np.array(PAM_CUTS)

    def shares(mm, ss):
        cdf = stats.norm.cdf((cuts[None, :] - mm[:, None]) / ss[:, None])
        cdf = np.column_stack([np.zeros(3), cdf, np.ones(3)])
        return (w[:, None] * np.diff(cdf, axis=1)).sum(axis=0)

    rng = np.random.default_rng(seed)
    boot = np.array(
        [shares(rng.normal(m, s / np.sqrt(n)), s * np.sqrt(rng.chisquare(n - 1) / (n - 1)))
         for _ in range(draws)]
    )  # fmt: skip
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    point = shares(m, s)
    return {f"L{k + 1}": (float(point[k]), float(lo[k]), float(hi[k])) for k in range(4)}


# ---------------------------------------------------------------------------------------------
# The calibration targets


@dataclass(frozen=True)
class Anchor:
    """One empirical fact the model can express, and how it is checked.

    ``measure`` names a measurement of ``calibrate.probe`` (``scenario.name``) or a paired
    difference (``diff.name`` = baseline - offline_only, same seeds). Within tolerance means
    ``lo <= simulated mean <= hi`` (``lo < mean`` when ``strict``); a missing bound is open.
    """

    id: str
    fact: str
    source: str
    measure: str
    where: str
    target: float | None
    lo: float | None
    hi: float | None
    basis: str
    unit: str = "share"  # share | points | ratio | difference
    strict: bool = False
    fit: bool = True  # used as a target by fit=true (two-sided anchors with a point target)
    label: str = ""  # how the target reads when it is not a single number

    def within(self, value: float) -> bool:
        if value is None or not math.isfinite(value):
            return False
        if self.lo is not None and (value <= self.lo if self.strict else value < self.lo):
            return False
        return not (self.hi is not None and value > self.hi)

    def tolerance_text(self) -> str:
        f = _pct if self.unit == "share" else (lambda x: f"{x:.3g}")
        if self.lo is not None and self.hi is not None:
            return f"[{f(self.lo)}, {f(self.hi)}]"
        if self.lo is not None:
            return f"{'>' if self.strict else '≥'} {f(self.lo)}"
        return f"≤ {f(self.hi)}"

    def target_text(self) -> str:
        if self.label:
            return self.label
        if self.target is None:
            return "direction"
        return _pct(self.target) if self.unit == "share" else f"{self.target:.3g}"

    def se(self) -> float | None:
        """The anchor's standard error for fitting: the 95% half-width / 1.96."""
        if self.target is None or self.lo is None or self.hi is None:
            return None
        return (self.hi - self.lo) / (2 * Z95)


def anchors(params: ModelParams | None = None) -> list[Anchor]:
    """The anchors of ``model-brief.md`` the model can express, for the diagnosis mix of ``params``."""
    F = FINDINGS
    p = (params or ModelParams()).population
    mix = (p.share_schizophrenia, p.share_bipolar, p.share_depression)
    out: list[Anchor] = []
    year = "baseline, last day"
    # P1: share online. Pooled over the three surveys.
    surveys = [F[k] for k in ONLINE]
    pooled, n_all = pooled_online()
    lo, hi = wilson(pooled, n_all)
    out.append(Anchor(
        "online_share",
        "people with SMI who use social media: "
        + ", ".join(f"{100 * f.value:g}% (n={f.n})" for f in surveys),
        "; ".join(f.source for f in surveys), "baseline.online_share", year,
        pooled, lo, hi, f"sampling: Wilson 95% interval of the pooled share (n = {n_all})",
    ))  # fmt: skip
    # P3: participation inequality.
    ever = F["ever_posted_max"]
    out.append(Anchor(
        "ever_posted", f"< {100 * ever.value:.0f}% ever post", ever.source,
        "baseline.ever_posted_share", year, None, None, ever.value,
        f"bound stated by the source (n = {ever.n:,}: sampling error negligible)", fit=False,
        label=f"< {100 * ever.value:.0f}%",
    ))  # fmt: skip
    judgement = (
        f"judgement: ±8 points (van Mierlo's n = {ever.n:,} makes sampling error negligible; the "
        "four networks differ, and superusers are 1% of N, so a few dozen people carry the share)"
    )
    for role in ("superuser", "contributor"):
        c = F[f"content_{role}"]
        out.append(Anchor(
            f"content_{role}", f"{role}s produce {100 * c.value:.1f}% of content", c.source,
            f"baseline.content_share_{role}", year, c.value, c.value - 0.08, c.value + 0.08,
            judgement,
        ))  # fmt: skip
    lurk = F["content_lurker"]
    out.append(Anchor(
        "content_lurker", f"lurkers produce {lurk.pct()} of content", lurk.source,
        "baseline.content_share_lurker", year, lurk.value, 0.0, 0.05,
        "judgement: at most 5% (lurkers post almost never)", fit=False,
    ))  # fmt: skip
    # P5: PAM-MH means by diagnosis.
    for dx in DIAGNOSES:
        f = F[f"pam_{dx}"]
        lo, hi = mean_ci(f.value, f.sd, f.n)
        out.append(Anchor(
            f"pam_mean_{dx}", f"PAM-MH mean, {dx}: {f.value} ± {f.sd} (n={f.n})",
            f"{f.source} (PAM-MH)", f"baseline.activation_mean_{dx}", year, f.value, lo, hi,
            f"sampling: 95% interval of the study mean, 1.96·{f.sd}/√{f.n}", unit="points",
        ))  # fmt: skip
    # P4/P5: level distribution implied by the PAM-MH means and SDs.
    for level, (point, lo, hi) in pam_level_intervals(mix).items():
        out.append(Anchor(
            f"pam_level_{level}", f"PAM level {level[1]} share implied by the PAM-MH means and SDs",
            f"{F['pam_schizophrenia'].source}; Hibbard cut-points", f"baseline.pam_{level}_share",
            year, point, lo, hi,
            "sampling, derived: 95% parametric-bootstrap interval of the study means and SDs "
            "(normal by diagnosis, the model's diagnosis mix)",
        ))  # fmt: skip
    us4 = F["us_pam_L4"]
    out.append(Anchor(
        "pam_below_us", f"people with SMI less activated than US adults (level 4: {us4.pct()})",
        f"{us4.source} (a contrast)", "baseline.pam_L4_share", year, None, None, us4.value,
        "direction: below the US adult share", fit=False,
        label=f"below {us4.pct()}",
    ))  # fmt: skip
    # P6: higher activation, lower unmet need.
    out.append(Anchor(
        "unmet_need_by_level", "higher activation goes with much lower unmet need for care",
        us4.source, "baseline.unmet_need_min_drop", year, None, 0.0, None,
        "direction: the share neither in care nor seeking it falls at every PAM level step "
        "(the smallest of the three drops is positive)", unit="difference", strict=True, fit=False,
        label="falls with level",
    ))  # fmt: skip
    # P7: self-stigma.
    smi, sz = F["stigma_smi"], F["stigma_schizophrenia"]
    lo_d, _ = wilson(smi.value, smi.n)
    lo_b, hi_b = wilson(sz.value, sz.n)
    out.append(Anchor(
        "stigma_population",
        f"moderate/high self-stigma: {smi.pct()} average across SMI; {sz.pct()} in schizophrenia",
        f"{smi.source}; {sz.source}", "baseline.stigma_moderate_high_share", year, None, lo_d, hi_b,
        "span of the two studies' estimates with their Wilson 95% intervals (fitted: no cost "
        "inside the span)",
        label=f"{smi.pct()} – {sz.pct()}",
    ))  # fmt: skip
    out.append(Anchor(
        "stigma_schizophrenia", f"moderate/high self-stigma in schizophrenia: {sz.pct()} (n={sz.n:,})",
        sz.source, "baseline.stigma_moderate_high_schizophrenia", year, sz.value, lo_b, hi_b,
        f"sampling: Wilson 95% interval (n = {sz.n:,})",
    ))  # fmt: skip
    # P8: hostility towards psychosis.
    psy, other = F["pejorative_psychosis"], F["pejorative_other"]
    rr, lo, hi = ratio_ci(psy.count, psy.n, other.count, other.n)
    out.append(Anchor(
        "hostility_ratio",
        f"pejorative tweets: about psychosis {psy.pct()} ({psy.count}/{psy.n}) vs about physical "
        f"illnesses {other.pct()} ({other.count}/{other.n})",
        psy.source, "baseline.hostility_ratio", "baseline, whole run", rr, lo, hi,
        "sampling: log-normal 95% interval of the ratio of proportions; measured as hostile comments "
        "per online person-day, schizophrenia vs other diagnoses. Reads back an input "
        "(exchange.psychosis_hostility is this ratio), so passing it is no evidence", unit="ratio",
    ))  # fmt: skip
    # P9: misinformation and correction.
    false, advice, fixed = F["false_posts"], F["inappropriate_advice"], F["corrected_within_hours"]
    lo_e, _ = wilson(false.value, false.n)
    out.append(Anchor(
        "misleading_share",
        f"{false.count} of {false.n:,} posts false; {advice.pct()} of advice inappropriate on a "
        "defibrillator-patient message board",
        f"{false.source}; {advice.source}", "baseline.misleading_share",
        "baseline, whole run", None, lo_e, advice.value,
        "span of the two studies: misleading share of the health posts members meet", fit=False,
        label=f"{false.pct(2)} – {advice.pct()}",
    ))  # fmt: skip
    lo, hi = wilson(fixed.value, fixed.n)
    out.append(Anchor(
        "same_day_correction",
        f"{fixed.count} of the {fixed.n} false posts corrected by participants within hours",
        fixed.source, "baseline.same_day_correction", "baseline, whole run", fixed.value, lo, hi,
        f"sampling: Wilson 95% interval of {fixed.count}/{fixed.n}; measured as the share of "
        "misleading posts whose author is corrected the same day (one step)",
    ))  # fmt: skip
    # P10: moderated online social therapy retention.
    for months, key in HORYZONS:
        h = F[key]
        lo, hi = wilson(h.value, h.n)
        out.append(Anchor(
            f"retention_{months}m",
            f"moderated online social therapy: {h.pct()} logged on ≥ {months} months (n={h.n})",
            f"{h.source} (Alvarez-Jimenez 2021)", f"moderated_community.retention_{months}m",
            "moderated_community, joiners of horyzons on days 30-90", h.value, lo, hi,
            f"sampling: Wilson 95% interval (n = {h.n}); measured as the share of the cohort still "
            "in the community (never left) that long after joining",
        ))  # fmt: skip
    # P11, P12: paired contrasts with offline_only (common random numbers).
    for measure, fact, source in (
        (
            "empowerment_mean",
            "peer support: some benefit on empowerment and hope",
            "Lloyd-Evans 2014",
        ),
        ("recovery_mean", "peer support: some benefit on recovery", "Lloyd-Evans 2014"),
        ("belonging_mean", "YouTube comments: less isolation", "Naslund 2014"),
        ("care_seeking_share", "YouTube comments: medication and care-seeking", "Naslund 2014"),
    ):
        out.append(Anchor(
            f"gain_{measure}", fact, source, f"diff.{measure}", "baseline − offline_only, last day",
            None, 0.0, None, "direction: a year online raises it (paired, same seeds)",
            unit="difference", strict=True, fit=False, label="higher online",
        ))  # fmt: skip
    return calibration_only(out)


def calibration_only(built: list[Anchor]) -> list[Anchor]:
    """The anchors that ``conf/evidence/targets.yaml`` lists with role ``calibration``.

    Calibration reads only calibration targets: an anchor the file lists as held-out is dropped
    here, and one it does not list at all is refused (every target is registered in the file).
    """
    from peerwell.scenarios.evidence.targets import load_targets

    roles = {t.name: t.role for t in load_targets()}
    missing = [a.id for a in built if a.id not in roles]
    if missing:
        raise ConfigError(
            f"anchors {missing} are not in conf/evidence/targets.yaml: list each with its role"
        )
    return [a for a in built if roles[a.id] == "calibration"]


def not_checked() -> list[tuple[str, str, str]]:
    """Anchors of the brief the model takes as inputs (set, not checked) or cannot express:
    ``(kind, anchor, source)``."""
    F = FINDINGS
    h6 = F["horyzons_6m"]
    return [
        (
            "inputs",
            "any social-media use, read as an upper bound on the share in a peer community at "
            "day 0 (population.initial_online_share = 0.70, an assumption)",
            "; ".join(F[k].source for k in ONLINE),
        ),
        (
            "inputs",
            "2.6 ± 2.5 h/day (CV 0.96; the default spread of use gives 0.45); 30% of people "
            "discussed symptoms, used as a share of posts (population.social_media_use_*, "
            "exchange.health_post_share = 0.3: assumptions informed by it)",
            "Birnbaum 2015",
        ),
        (
            "inputs",
            "PAM-MH means and SDs at day 0 (population.pam_*)",
            F["pam_schizophrenia"].source,
        ),
        (
            "inputs",
            f"pejorative tweets about psychosis vs physical illnesses, ratio "
            f"{pejorative_ratio():.1f}, taken as the hostility multiplier of psychosis "
            "(exchange.psychosis_hostility, an assumption: tweets about an illness, not replies to "
            "people with it; the hostility_ratio anchor reads it back)",
            F["pejorative_psychosis"].source,
        ),
        (
            "inputs",
            f"intervention dropout (intervention.dropout_rate = −ln {h6.value} / 182.6 days)",
            h6.source,
        ),
        (
            "not expressible",
            "97.5% of young people on social media (the model has no age)",
            "Birnbaum 2015",
        ),
        (
            "not expressible",
            "peer support: little effect on hospitalisation or symptoms (no such state)",
            "Lloyd-Evans 2014",
        ),
        (
            "not expressible",
            f"US adults' PAM level shares {us_pam_levels()} (a contrast population; direction "
            "checked above)",
            F["us_pam_L4"].source,
        ),
    ]


# ---------------------------------------------------------------------------------------------
# The anchors the parameters determine by themselves


def anchor_checks(params: ModelParams | None = None) -> list[tuple[str, str, str, str]]:
    """Anchors that the parameters alone determine (no simulation needed), at ``params``.

    Returns rows ``(check, anchor, model value, how it is computed)``.
    """
    F = FINDINGS
    p = ModelParams() if params is None else params
    pop, ex, iv, en = p.population, p.exchange, p.intervention, p.entry
    out = []

    def above_half(mean: float) -> float:
        k = pop.stigma_concentration
        return float(stats.beta.sf(0.5, mean * k, (1 - mean) * k))

    sz, other = above_half(pop.stigma_mean_schizophrenia), above_half(pop.stigma_mean_other)
    brohan, dubreucq = F["stigma_schizophrenia"], F["stigma_smi"]
    out.append(
        (
            "moderate/high self-stigma at day 0, schizophrenia",
            f"{brohan.pct()} ({brohan.source})",
            _pct(sz),
            "P(s > 0.5), s ~ Beta(μκ, (1−μ)κ), μ = `population.stigma_mean_schizophrenia`",
        )
    )
    out.append(
        (
            "moderate/high self-stigma at day 0, bipolar and depression",
            f"{dubreucq.pct()} average across SMI ({dubreucq.source})",
            _pct(other),
            "as above with μ = `population.stigma_mean_other`",
        )
    )
    mix = pop.share_schizophrenia * sz + (1 - pop.share_schizophrenia) * other
    out.append(
        (
            "moderate/high self-stigma at day 0, whole population",
            f"{dubreucq.pct()} ({dubreucq.source})",
            _pct(mix),
            "the two above weighted by the diagnosis mix",
        )
    )
    groups = (
        (pop.share_schizophrenia, pop.pam_mean_schizophrenia, pop.pam_sd_schizophrenia),
        (pop.share_bipolar, pop.pam_mean_bipolar, pop.pam_sd_bipolar),
        (pop.share_depression, pop.pam_mean_depression, pop.pam_sd_depression),
    )
    levels = [0.0, 0.0, 0.0, 0.0]
    for w, mu, sd in groups:
        cdf = [float(stats.norm.cdf(c, mu, sd)) if sd > 0 else float(mu <= c) for c in PAM_CUTS]
        for k, share in enumerate((cdf[0], cdf[1] - cdf[0], cdf[2] - cdf[1], 1 - cdf[2])):
            levels[k] += w * share
    out.append(
        (
            "PAM levels 1/2/3/4 at day 0",
            f"US adults {us_pam_levels()} ({F['us_pam_L4'].source}), a contrast, not a target "
            "for SMI",
            "/".join(f"{100 * v:.1f}" for v in levels) + "%",
            "normal mixture of the PAM-MH means and SDs by diagnosis, cut at the PAM cut-points",
        )
    )
    shares = (
        1 - pop.share_superuser - pop.share_contributor,
        pop.share_contributor,
        pop.share_superuser,
    )
    rates = (pop.post_rate_lurker, pop.post_rate_contributor, pop.post_rate_superuser)
    total = sum(w * r for w, r in zip(shares, rates))
    content = [w * r / total if total else 0.0 for w, r in zip(shares, rates)]
    ever = F["ever_posted_max"]
    out.append(
        (
            "content by lurkers/contributors/superusers",
            f"{content_shares()} ({ever.source})",
            "/".join(f"{100 * v:.1f}" for v in content) + "%",
            "share of role × its daily posting probability, normalised",
        )
    )
    ever_posted = sum(w * (1 - (1 - r) ** 365) for w, r in zip(shares, rates))
    out.append(
        (
            "share who post at least once in a year online",
            f"< {100 * ever.value:.0f}% ever post ({ever.source})",
            _pct(ever_posted),
            "Σ share × (1 − (1 − rate)^365), for people online all year",
        )
    )
    for days, (months, key) in zip((182.6, 273.9), HORYZONS):
        h = F[key]
        out.append(
            (
                f"still enrolled after {months} months",
                f"{h.pct()} logged on ({h.source})",
                _pct((1 - iv.dropout_rate) ** days),
                "(1 − `intervention.dropout_rate`)^days, enrolees who stay in the community",
            )
        )
    h6 = F["horyzons_6m"]
    for b in (0.0, 0.5):
        stay = (1 - en.leave_rate * (1 - en.belonging_retention * b)) ** 182.6
        out.append(
            (
                f"still in the community after 6 months, belonging {b:g}, no hostility",
                f"{h6.pct()} ({h6.source}, moderated platform)",
                _pct(stay),
                "(1 − `entry.leave_rate`·(1 − `entry.belonging_retention`·b))^182.6",
            )
        )
    psy, oth = F["pejorative_psychosis"], F["pejorative_other"]
    out.append(
        (
            "hostility towards psychosis relative to other content (an input read back)",
            f"{psy.pct()} of tweets about psychosis vs {oth.pct()} about physical illnesses "
            f"pejorative, ratio {pejorative_ratio():.1f} ({psy.source})",
            f"×{ex.psychosis_hostility:g}",
            "`exchange.psychosis_hostility` (hostile-comment rate of people with schizophrenia)",
        )
    )
    keep = 1 - p.communities.moderation * ex.moderation_efficacy
    false, advice = F["false_posts"], F["inappropriate_advice"]
    out.append(
        (
            "misleading share of external feed content after moderation",
            f"{false.pct(2)} of posts false ({false.source}) to {advice.pct()} inappropriate "
            "advice",
            _pct(p.communities.misinformation_prevalence * keep),
            "`communities.misinformation_prevalence` × (1 − moderation × efficacy), "
            "platforms without a moderation floor",
        )
    )
    return out
