"""Virtual trials: a published trial's design run inside the model (`peerwell trial`).

A :class:`TrialDesign` says who is enrolled (eligibility read from the simulated population on
day 0: diagnosis, online status, care, vulnerability, belief), what each arm receives, how long
the follow-up is, the outcome measure and the effect-size statistic the published trial or
meta-analysis reports, and the published effect with its interval and where it is printed.

**How a trial runs** (:func:`run_trial`). For each replicate (seeds from
``replicate_seeds(seed, replicates)``, the seed policy of every command) one model is built; on
day 0 the eligible people are shuffled with a generator seeded from the replicate's seed
(``numpy.random.default_rng([seed, TRIAL_STREAM])``) and split 1:1, intervention first (the odd
one out goes to control). Both arms live in the same simulated world, so what they share (feeds,
ties, offline information) is common to both, as in a real trial.

- The **intervention arm** is placed on day 0 in the design's trial community (a community that
  the design adds to the scenario, or that the scenario already has, opening on day 0). From
  then on the model's own rules apply: members leave it at the leaving rule (so engagement wanes
  as the HORYZONS logins did), may move and may come back. When the design gives an exposure
  window (``exposure_days``), the members still in it on that day go back to where they were
  before the trial (their day-0 community, or offline), and the programme is over.
- The **control arm** receives usual care: the model as it is, online or not as each person
  would be.
- The trial community is **closed to everyone but the intervention arm** during the exposure
  (to everyone afterwards): a person of the control arm or not enrolled whom the membership rule
  puts there on a day is put back, after that day, where they were before it. (A day's exchange
  has then happened; moves into a 86-member community of strangers are rare enough that this
  one-day contamination is left in, and it dilutes the effect, as contamination in a trial does.)

**Effect statistics** (each on its analysis scale, where intervals are symmetric):

- ``hedges_g``: standardised mean difference intervention - control at follow-up, pooled SD,
  with Hedges' small-sample correction J = 1 - 3/(4(n_t + n_c) - 9); sampling variance
  (n_t + n_c)/(n_t n_c) + g^2 / (2(n_t + n_c)) (Borenstein et al. 2009, ch. 4).
- ``odds_ratio``: odds of the event in the intervention arm over the control arm; log scale,
  variance the sum of the inverse cell counts (Woolf), with 0.5 added to every cell when one is
  empty (Haldane-Anscombe).
- ``d_from_or``: Cohen's d from the odds ratio of the outcome in control over intervention (so a
  positive d is a benefit), d = ln(OR) sqrt(3)/pi, variance var(ln OR) 3/pi^2 (Chinn 2000; the
  Cochrane Handbook's conversion for pooling binary with continuous outcomes).

**Interval over replicates and people.** Replicate r gives an estimate e_r with its sampling
variance v_r (the people in it). The trial's estimate is the mean over replicates; its variance
is the larger of sum(v_r)/R^2 (the people: what a trial R times as large would have) and
s^2/R (the spread between replicates: also different populations, networks and randomisations),
so whichever source of variation is larger sets the interval. The 95% interval is
estimate +- 1.96 SE on the analysis scale (exponentiated for an odds ratio).

**Within** (``within``): the simulated and published intervals are *compatible* when the
difference between the two estimates is within what their uncertainties allow:
|e_sim - e_pub| <= 1.96 sqrt(SE_sim^2 + SE_pub^2) on the analysis scale, with SE_pub = (hi - lo) /
(2 x 1.96) from the published 95% interval (the z-test of the difference of two independent
estimates, Altman & Bland 2003, BMJ 326:219). Whether the two intervals merely overlap (a looser
rule) is reported too, as ``overlap``. An effect outside is a finding about the model: nothing
here tunes a parameter to it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from peerwell.scenarios.catalogue import load_scenario
from peerwell.scenarios.experiments.replicates import replicate_seeds
from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import ModelParams, community_names, with_overrides

TRIAL_STREAM = 0x7121A1  # the randomisation's own stream, apart from every model draw
Z95 = 1.959963984540054
STATISTICS = ("hedges_g", "odds_ratio", "d_from_or")
# Trajectories are kept at about this many days per arm (every day for short follow-ups).
TRAJECTORY_POINTS = 60


# ---------------------------------------------------------------------------------------------
# Designs


@dataclass(frozen=True)
class Published:
    """The published effect: estimate, 95% interval and where they are printed."""

    effect: float
    ci: tuple[float, float]
    source: str  # citation with table or page
    note: str = ""  # how the figure was turned into the model's orientation, what is not certain


@dataclass(frozen=True)
class TrialDesign:
    """One published trial's design, as the model can run it.

    ``eligible(static, cur)`` returns the day-0 mask of who may be enrolled; ``outcome(cur,
    base)`` the per-person outcome from today's state and the day-0 snapshot ``base`` (0/1 for a
    binary outcome). ``community`` is the community the intervention arm is placed in, set up by
    ``scenario`` and ``overrides``. ``mechanism`` is the switch of the mechanism the trial tests
    (off, the simulated effect should shrink towards 0).
    """

    name: str
    title: str  # one line, for `peerwell trial --help`
    family: str
    enrolment: str
    intervention: str
    control: str
    scenario: str
    overrides: tuple[str, ...]
    community: str
    follow_up: int  # days from randomisation to the outcome
    exposure_days: int | None  # days of access to the trial community; None: the whole follow-up
    outcome_name: str
    outcome_kind: str  # "continuous" or "binary"
    statistic: str  # one of STATISTICS
    mapping: str  # what the model's outcome stands for, and why
    mechanism: str
    published: Published
    eligible: Callable[[dict, dict], np.ndarray] = dataclasses.field(repr=False, compare=False)
    outcome: Callable[[dict, dict], np.ndarray] = dataclasses.field(repr=False, compare=False)

    def describe(self) -> dict[str, Any]:
        """The design as trial.json writes it (no callables)."""
        return {
            "name": self.name,
            "title": self.title,
            "family": self.family,
            "enrolment": self.enrolment,
            "intervention": self.intervention,
            "control": self.control,
            "scenario": self.scenario,
            "overrides": list(self.overrides),
            "community": self.community,
            "follow_up_days": self.follow_up,
            "exposure_days": self.exposure_days,
            "outcome": self.outcome_name,
            "outcome_kind": self.outcome_kind,
            "statistic": self.statistic,
            "mapping": self.mapping,
            "mechanism": self.mechanism,
        }


def _offline_in_care(static: dict, cur: dict) -> np.ndarray:
    return (cur["community"] < 0) & (cur["care"] == 2)


def _psychosis_in_remission(static: dict, cur: dict) -> np.ndarray:
    return (static["diagnosis"] == 0) & (static["vulnerable"] == 0)


def _online_misled(static: dict, cur: dict) -> np.ndarray:
    return (cur["community"] >= 0) & (cur["misinfo"] == 1)


def _empowerment(cur: dict, base: dict) -> np.ndarray:
    return cur["empowerment"].astype(float)


def _any_acute(cur: dict, base: dict) -> np.ndarray:
    return (cur["acute_visits"] > base["acute_visits"]).astype(float)


def _misled(cur: dict, base: dict) -> np.ndarray:
    return (cur["misinfo"] == 1).astype(float)


LLOYD_EVANS = TrialDesign(
    name="peer_support_empowerment",
    title="peer support in SMI (Lloyd-Evans 2014): empowerment, SMD, 6-month programme + 6 months",
    family="peer support in serious mental illness",
    enrolment="people with SMI of any diagnosis who are in mental-health care on day 0 (the "
    "trials recruited service users) and in no online peer community (no peer contact at entry)",
    intervention="membership from day 0 of a peer-support forum with two trained peer "
    "supporters (the peer_supporters scenario's assumption) for 183 days, then back offline",
    control="usual care: the model as it is (they may join a community as anyone would)",
    scenario="baseline",
    overrides=(
        "community.peer_support_group.platform=forum",
        "community.peer_support_group.peer_supporters=2",
    ),
    community="peer_support_group",
    follow_up=365,
    exposure_days=183,
    outcome_name="empowerment (0-1, the model's 'personal empowerment and hope')",
    outcome_kind="continuous",
    statistic="hedges_g",
    mapping="The trials' empowerment scales (e.g. the Empowerment Scale) map to the model's "
    "empowerment state, which the ODD defines as personal empowerment and hope (§7.5). Outcome "
    "measured 6 months after a 6-month programme, as Table 3's follow-up (6 months post-treatment); "
    "the programmes' own length varied and 6 months is an assumption.",
    mechanism="mechanisms.stigma_pathway",
    published=Published(
        effect=0.25,
        ci=(0.07, 0.43),
        source="Lloyd-Evans B, et al. A systematic review and meta-analysis of randomised "
        "controlled trials of peer support for people with severe mental illness. BMC Psychiatry "
        "2014;14:39. Table 3 (PMC3933205, table T3), row 'Empowerment': 2 trials, 538 "
        "participants, SMD = -0.25 (-0.43, -0.07), I2 12%, follow-up 6 months post-treatment, "
        "GRADE very low",
        note="Table 3 prints the SMD as -0.25 with negative favouring peer support (its hope and "
        "recovery rows read the same way, and the umbrella review of Smit et al. 2024 BMC Medicine "
        "reads them as improvements); written here as +0.25 [0.07, 0.43], higher empowerment with "
        "peer support. The table's header row reads 'Peer support: 4 trials, 1,723 "
        "participants'; the excerpt found did not show the caption, so which of the review's "
        "three categories (mutual support, peer support services, peer-delivered services) the "
        "table is, is not confirmed here.",
    ),
    eligible=_offline_in_care,
    outcome=_empowerment,
)

HORYZONS = TrialDesign(
    name="horyzons_emergency",
    title="HORYZONS (Alvarez-Jimenez 2021): moderated online social therapy, 18 months, "
    "emergency visits, OR",
    family="moderated online social therapy after first-episode psychosis",
    enrolment="people with a schizophrenia-spectrum diagnosis who are not vulnerable on day 0 "
    "(the trial enrolled young people after a first episode of psychosis, in clinical remission)",
    intervention="membership from day 0 of the HORYZONS-like moderated community of the "
    "moderated_community scenario (moderated platform, moderation 0.9, one peer moderator, 86 "
    "real members), opening on day 0, for the whole 18 months; they leave it at the model's "
    "leaving rule, as logins waned in the trial",
    control="treatment as usual: the model as it is, without access to the moderated community",
    scenario="moderated_community",
    overrides=("community.horyzons.opens=0",),
    community="horyzons",
    follow_up=547,
    exposure_days=None,
    outcome_name="any acute care episode during follow-up (the model's emergency visit or "
    "admission, acute_visits)",
    outcome_kind="binary",
    statistic="odds_ratio",
    mapping="The trial's visits to emergency services over 18 months map to the model's acute "
    "care episodes (§7.11: an emergency visit or an admission) since randomisation; the event is "
    "having at least one.",
    mechanism="mechanisms.hostility",
    published=Published(
        effect=0.31,
        ci=(0.11, 0.86),
        source="Alvarez-Jimenez M, et al. The Horyzons project: a randomized controlled trial of a "
        "novel online social therapy to maintain treatment effects from specialist first-episode "
        "psychosis services. World Psychiatry 2021;20(2):233-243, abstract (p. 233): emergency "
        "services visited by 19% with Horyzons vs 39% with TAU, OR 0.31, 95% CI 0.11-0.86, "
        "p = 0.03 (N = 170: 86 vs 84)",
        note="The trial is in World Psychiatry (not Schizophrenia Bulletin). The figures are from "
        "the abstract as found (its results table was not found); the same abstract gives "
        "employment or education OR 5.55 [1.09, 28.23] and hospitalisations for psychosis 13% vs "
        "27% (a trend).",
    ),
    eligible=_psychosis_in_remission,
    outcome=_any_acute,
)


def _employed(cur: dict, base: dict) -> np.ndarray:
    return (cur["employed"] == 1).astype(float)


# The same trial, its vocational outcome: the arms, follow-up and community of HORYZONS above.
HORYZONS_EMPLOYMENT = dataclasses.replace(
    HORYZONS,
    name="horyzons_employment",
    title="HORYZONS (Alvarez-Jimenez 2021): moderated online social therapy, 18 months, "
    "employment or education, OR",
    outcome_name="employed or in education at 18 months (the model's employed state)",
    mapping="The trial's employment or education at 18 months maps to the model's employed state "
    "(§7.11: employed or in education) at follow-up; both arms start from the population's "
    "day-0 employment, as the trial's arms started from theirs.",
    mechanism="mechanisms.offline_translation",
    published=Published(
        effect=5.55,
        ci=(1.09, 28.23),
        source="Alvarez-Jimenez M, et al. The Horyzons project: a randomized controlled trial of a "
        "novel online social therapy to maintain treatment effects from specialist first-episode "
        "psychosis services. World Psychiatry 2021;20(2):233-243, abstract (p. 233): more likely "
        "to be employed or in education at 18 months, OR 5.55, 95% CI 1.09-28.23, p = 0.04 "
        "(N = 170: 86 vs 84)",
        note="From the abstract as found (its results table was not found). A wide interval: "
        "a secondary outcome of a trial of 170.",
    ),
    outcome=_employed,
)

WALTER = TrialDesign(
    name="misinformation_correction",
    title="correction on social media (Walter 2021): misled members corrected, d, immediate",
    family="correction of health misinformation",
    enrolment="people in an online community who hold a misleading health belief on day 0",
    intervention="one day in a moderated community (the HORYZONS-like community of the "
    "moderated_community scenario, opening on day 0: expert moderators correct misleading "
    "beliefs, and peers' accurate posts and replies correct), then back to their own community",
    control="their own community that day (misinformation-only control)",
    scenario="moderated_community",
    overrides=("community.horyzons.opens=0",),
    community="horyzons",
    follow_up=1,
    exposure_days=1,
    outcome_name="still misled at the immediate post-test (misinfo state 1)",
    outcome_kind="binary",
    statistic="d_from_or",
    mapping="The meta-analysed experiments expose people to a correction on social media and "
    "measure misbelief right after; the model's belief is binary (misled or not), so the effect is "
    "the odds ratio of still being misled, control over intervention, as Cohen's d (Chinn 2000). "
    "Caution: the model's per-item correction hazard (information.correction_effect) was itself "
    "derived from this d = 0.40 (Phi(0.40) - 1/2); this trial exercises the online correction "
    "routes (moderators, peers, replies), which were not, but it is not wholly independent.",
    mechanism="mechanisms.correction",
    published=Published(
        effect=0.40,
        ci=(0.25, 0.55),
        source="Walter N, Brooks JJ, Saucier CJ, Suresh S. Evaluating the impact of attempts to "
        "correct health misinformation on social media: a meta-analysis. Health Communication "
        "2021;36(13):1776-1784, abstract: k = 24, N = 6,086, d = 0.40, 95% CI [0.25, 0.55], "
        "p = .0005; stronger when debunked by experts",
        note="From the abstract as found; the page of the pooled estimate in the results section "
        "was not found.",
    ),
    eligible=_online_misled,
    outcome=_misled,
)

DESIGNS: dict[str, TrialDesign] = {
    d.name: d for d in (LLOYD_EVANS, HORYZONS, HORYZONS_EMPLOYMENT, WALTER)
}


def design_lines() -> list[str]:
    """``design=<name>  <one-line description>`` for every design, in order."""
    width = max(len(n) for n in DESIGNS) + len("design=")
    return [f"design={n:<{width - 7}}  {d.title}" for n, d in DESIGNS.items()]


def get_design(name: str) -> TrialDesign:
    """The design ``name``, or a ConfigError naming the known ones."""
    if name not in DESIGNS:
        raise ConfigError(f"unknown design {name!r}; known designs: {', '.join(DESIGNS)}")
    return DESIGNS[name]


# ---------------------------------------------------------------------------------------------
# Effect statistics (analysis scale: g, ln OR, d)


def hedges_g(xt: np.ndarray, xc: np.ndarray) -> tuple[float, float]:
    """Hedges' g of intervention minus control and its sampling variance."""
    nt, nc = len(xt), len(xc)
    if nt < 2 or nc < 2:
        return math.nan, math.nan
    sp2 = ((nt - 1) * xt.var(ddof=1) + (nc - 1) * xc.var(ddof=1)) / (nt + nc - 2)
    if sp2 <= 0:
        return 0.0 if xt.mean() == xc.mean() else math.nan, math.nan
    d = (xt.mean() - xc.mean()) / math.sqrt(sp2)
    g = (1 - 3 / (4 * (nt + nc) - 9)) * d
    return float(g), (nt + nc) / (nt * nc) + g * g / (2 * (nt + nc))


def log_odds_ratio(et: int, nt: int, ec: int, nc: int) -> tuple[float, float]:
    """ln OR of the event, intervention over control, and its variance (Woolf; 0.5 added to
    every cell when one is empty)."""
    cells = np.array([et, nt - et, ec, nc - ec], dtype=float)
    if nt == 0 or nc == 0:
        return math.nan, math.nan
    if (cells == 0).any():
        cells += 0.5
    a, b, c, d = cells
    return float(math.log(a * d / (b * c))), float((1 / cells).sum())


def estimate(statistic: str, yt: np.ndarray, yc: np.ndarray) -> tuple[float, float]:
    """One replicate's estimate on the analysis scale and its sampling variance."""
    if statistic == "hedges_g":
        return hedges_g(yt, yc)
    et, ec = int(yt.sum()), int(yc.sum())
    lor, var = log_odds_ratio(et, len(yt), ec, len(yc))
    if statistic == "odds_ratio":
        return lor, var
    if statistic == "d_from_or":  # control over intervention: a benefit is positive
        k = math.sqrt(3) / math.pi
        return -lor * k, var * k * k
    raise ConfigError(f"unknown statistic {statistic!r}; known: {', '.join(STATISTICS)}")


def to_scale(statistic: str, x: float) -> float:
    """A published value on the analysis scale (ln for an odds ratio)."""
    return math.log(x) if statistic == "odds_ratio" else x


def from_scale(statistic: str, x: float) -> float:
    return math.exp(x) if statistic == "odds_ratio" and math.isfinite(x) else x


def pool(estimates: Sequence[float], variances: Sequence[float]) -> dict[str, float]:
    """Mean over replicates with the larger of the people's and the replicates' variance."""
    e = np.array([x for x in estimates if math.isfinite(x)], dtype=float)
    v = np.array([x for x, y in zip(variances, estimates) if math.isfinite(y)], dtype=float)
    r = len(e)
    if r == 0:
        return {"estimate": math.nan, "se": math.nan, "se_people": math.nan,
                "se_replicates": math.nan}  # fmt: skip
    se_people = math.sqrt(v.sum()) / r if np.isfinite(v).all() else math.nan
    se_reps = float(e.std(ddof=1) / math.sqrt(r)) if r >= 2 else math.nan
    se = max(x for x in (se_people, se_reps, 0.0) if math.isfinite(x))
    return {"estimate": float(e.mean()), "se": se, "se_people": se_people,
            "se_replicates": se_reps}  # fmt: skip


def compatible(statistic: str, sim: dict, published: Published) -> dict[str, Any]:
    """The ``within`` rule of the module docstring, and whether the intervals overlap."""
    lo, hi = (to_scale(statistic, x) for x in published.ci)
    pub = to_scale(statistic, published.effect)
    se_pub = (hi - lo) / (2 * Z95)
    e, se = sim["estimate"], sim["se"]
    if not math.isfinite(e):
        return {"within": None, "z": math.nan, "overlap": None}
    z = (e - pub) / math.sqrt(se * se + se_pub * se_pub)
    overlap = e - Z95 * se <= hi and e + Z95 * se >= lo
    return {"within": bool(abs(z) <= Z95), "z": float(z), "overlap": bool(overlap)}


# ---------------------------------------------------------------------------------------------
# Running


def _parse_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _split(item: str) -> tuple[str, str]:
    if "=" not in str(item):
        raise ConfigError(f"override {item!r}: expected key=value")
    key, value = str(item).split("=", 1)
    return key.strip(), value.strip()


def trial_params(
    design: TrialDesign,
    params: ModelParams | None = None,
    *,
    population_size: int | None = None,
    overrides: Sequence[str] = (),
) -> ModelParams:
    """The parameters of one arm-world: the design's scenario (or ``params``), the design's
    overrides, the user's, the population size, and the follow-up as the run length."""
    for item in overrides:
        key = _split(item)[0]
        if key in ("steps", "seed", "scenario"):
            raise ConfigError(
                f"override {item!r}: a trial sets {key} itself (steps: the design's follow-up; "
                "seed: seed=; scenario: the design's)"
            )
    items = list(design.overrides) + list(overrides)
    if population_size is not None:
        items.append(f"population.size={int(population_size)}")
    if params is None:
        p = load_scenario(design.scenario, items)
    else:
        # The world is the caller's; the trial community is the design's scenario's (unless the
        # world has one of that name already), then the design's and the user's overrides.
        values = {} if design.community in (params.community or {}) else _community_of(design)
        values.update({k: _parse_value(v) for k, v in map(_split, items)})
        p = with_overrides(params, values)
    run = {"steps": design.follow_up, "record_every": design.follow_up}
    p = with_overrides(p, run)
    if design.community not in community_names(p):
        raise ConfigError(
            f"design {design.name}: its trial community {design.community!r} is not in the run "
            f"(communities: {community_names(p)})"
        )
    return p


def _community_of(design: TrialDesign) -> dict[str, Any]:
    """The trial community's own settings in the design's scenario, as overrides."""
    settings = (load_scenario(design.scenario).community or {}).get(design.community)
    if settings is None:
        return {}
    return {
        f"community.{design.community}.{f.name}": getattr(settings, f.name)
        for f in dataclasses.fields(settings)
        if getattr(settings, f.name) is not None
    }


def _trajectory_days(follow_up: int) -> set[int]:
    every = max(1, math.ceil(follow_up / TRAJECTORY_POINTS))
    return set(range(0, follow_up + 1, every)) | {follow_up}


def run_replicate(design: TrialDesign, params: ModelParams) -> dict[str, Any]:
    """One virtual trial in one simulated world (``params.seed``): per-arm outcomes at day 0 and
    at follow-up, the arms' trajectories, and the replicate's estimate."""
    from peerwell.simulation.model import PeerwellModel

    m = PeerwellModel(params, agent_views=False)
    st = m.state
    n = params.population.size
    k = community_names(params).index(design.community)
    cur = st.cur
    eligible = np.flatnonzero(design.eligible(st.static, cur))
    rng = np.random.default_rng([int(params.seed), TRIAL_STREAM])
    order = rng.permutation(eligible)
    half = len(order) // 2
    treat = np.zeros(n, dtype=bool)
    ctrl = np.zeros(n, dtype=bool)
    treat[order[:half]] = True
    ctrl[order[half:]] = True
    before = cur["community"].copy()  # where each person was before the trial
    base = {name: arr.copy() for name, arr in cur.items()}
    cur["community"][treat] = k
    cur["ever_online"][treat] = 1
    days = _trajectory_days(design.follow_up)
    traj: dict[str, list] = {"day": [], "intervention": [], "control": [], "in_community": []}

    def record(day: int) -> None:
        y = design.outcome(st.cur, base)
        traj["day"].append(day)
        traj["intervention"].append(float(y[treat].mean()) if treat.any() else math.nan)
        traj["control"].append(float(y[ctrl].mean()) if ctrl.any() else math.nan)
        there = st.cur["community"][treat] == k
        traj["in_community"].append(float(there.mean()) if treat.any() else math.nan)

    y0 = design.outcome(cur, base)
    record(0)
    exposure = design.exposure_days if design.exposure_days is not None else design.follow_up + 1
    while m.running:
        prev = st.cur["community"].copy()
        prev_online = st.cur["ever_online"].copy()
        m.step()
        c = st.cur["community"]
        allowed = treat if m.day < exposure else np.zeros(n, dtype=bool)
        if m.day == exposure:  # the programme ends: members go back where they were
            out = treat & (c == k)
            c[out] = before[out]
        intruders = ~allowed & (c == k)
        c[intruders] = prev[intruders]
        st.cur["ever_online"][intruders] = prev_online[intruders]
        if m.day in days:
            record(m.day)
    y1 = design.outcome(st.cur, base)
    est, var = estimate(design.statistic, y1[treat], y1[ctrl])
    arms = {}
    for arm, mask in (("intervention", treat), ("control", ctrl)):
        arms[arm] = {
            "n": int(mask.sum()),
            "baseline_sum": float(y0[mask].sum()),
            "baseline_sq": float((y0[mask] ** 2).sum()),
            "follow_up_sum": float(y1[mask].sum()),
            "follow_up_sq": float((y1[mask] ** 2).sum()),
        }
    return {"seed": int(params.seed), "eligible": len(eligible), "estimate": est,
            "variance": var, "arms": arms, "trajectory": traj}  # fmt: skip


def _arm_summary(design: TrialDesign, reps: list[dict], arm: str) -> dict[str, Any]:
    n = sum(r["arms"][arm]["n"] for r in reps)
    out: dict[str, Any] = {"n": n, "n_per_replicate": [r["arms"][arm]["n"] for r in reps]}
    label = "share" if design.outcome_kind == "binary" else "mean"
    for when in ("baseline", "follow_up"):
        s = sum(r["arms"][arm][f"{when}_sum"] for r in reps)
        sq = sum(r["arms"][arm][f"{when}_sq"] for r in reps)
        mean = s / n if n else math.nan
        out[f"{when}_{label}"] = mean
        if design.outcome_kind == "continuous" and n > 1:
            out[f"{when}_sd"] = math.sqrt(max(0.0, (sq - n * mean * mean) / (n - 1)))
    days = reps[0]["trajectory"]["day"]
    out["trajectory"] = {
        "day": days,
        label: [
            float(np.nanmean([r["trajectory"][arm][i] for r in reps])) for i in range(len(days))
        ],
    }
    if arm == "intervention":
        out["trajectory"]["in_trial_community"] = [
            float(np.nanmean([r["trajectory"]["in_community"][i] for r in reps]))
            for i in range(len(days))
        ]
    return out


def run_trial(
    design: str,
    params: ModelParams | None = None,
    *,
    population_size: int | None = None,
    replicates: int = 2,
    seed: int = 1,
    overrides: list[str] | tuple = (),
) -> dict:
    """Run virtual trial ``design`` and return the trial.json dict.

    Parameters
    ----------
    design : str
        A key of :data:`DESIGNS`.
    params : ModelParams, optional
        The world to run the trial in (e.g. calibrated defaults); default: the design's scenario.
        The design's own overrides (its trial community) are applied over it either way.
    population_size : int, optional
        Simulated people per replicate (default: the scenario's).
    replicates : int
        Worlds the trial is run in (seeds from ``replicate_seeds(seed, replicates)``).
    seed : int
        Root seed: the same seed gives the same trial.json numbers.
    overrides : list of str
        ``group.name=value`` model parameters (not ``steps``, ``seed`` nor ``scenario``).

    Returns
    -------
    dict
        Keys ``design``, ``arms``, ``simulated``, ``published``, ``within`` (and ``within_rule``,
        ``z``, ``overlap``), ``replicates``, ``seed``, ``config``, ``version``, ``seconds``.

    Raises
    ------
    ConfigError
        Unknown design, parameter or value.
    """
    d = get_design(design)
    if int(replicates) < 1:
        raise ConfigError(f"replicates={replicates}: give 1 or more")
    t0 = time.perf_counter()
    base = trial_params(d, params, population_size=population_size, overrides=list(overrides))
    seeds = replicate_seeds(int(seed), int(replicates))
    reps = [run_replicate(d, dataclasses.replace(base, seed=s)) for s in seeds]
    pooled = pool([r["estimate"] for r in reps], [r["variance"] for r in reps])
    e, se = pooled["estimate"], pooled["se"]
    lo, hi = (e - Z95 * se, e + Z95 * se) if math.isfinite(e) else (math.nan, math.nan)
    simulated = {
        "effect": from_scale(d.statistic, e),
        "ci": [from_scale(d.statistic, lo), from_scale(d.statistic, hi)],
        "statistic": d.statistic,
        "analysis_scale": "ln OR" if d.statistic == "odds_ratio" else d.statistic,
        "se": se,
        "se_people": pooled["se_people"],
        "se_replicates": pooled["se_replicates"],
        "per_replicate": [from_scale(d.statistic, r["estimate"]) for r in reps],
    }
    check = compatible(d.statistic, pooled, d.published)
    import peerwell
    from peerwell.scenarios.experiments.store import git_revision

    return {
        "design": d.describe(),
        "arms": {arm: _arm_summary(d, reps, arm) for arm in ("intervention", "control")},
        "simulated": simulated,
        "published": {
            "effect": d.published.effect,
            "ci": list(d.published.ci),
            "statistic": d.statistic,
            "source": d.published.source,
            "note": d.published.note,
        },
        "within": check["within"],
        "within_rule": "compatible when |simulated - published| <= 1.96 sqrt(SE_sim^2 + "
        "SE_pub^2) on the analysis scale (ln OR for odds ratios), SE_pub from the published 95% "
        "interval (z-test of two independent estimates, Altman & Bland 2003)",
        "z": check["z"],
        "overlap": check["overlap"],
        "eligible_per_replicate": [r["eligible"] for r in reps],
        "replicates": int(replicates),
        "replicate_seeds": [int(s) for s in seeds],
        "seed": int(seed),
        "config": {
            "scenario": d.scenario,
            "overrides": list(d.overrides) + list(overrides),
            "population.size": base.population.size,
            "steps": base.steps,
            "params_given": params is not None,
        },
        "version": {"peerwell": peerwell.__version__, "git_revision": git_revision()},
        "seconds": round(time.perf_counter() - t0, 2),
    }
