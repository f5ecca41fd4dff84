"""The readable reference implementation: the same rules as ``kernels.py``, one person at a time.

This is the model as an instructor would write it on the board, in plain Mesa: every person is a
``mesa.Agent`` with a method per mechanism, drawing the same counter-based random numbers as the
kernels. It is the oracle the Numba kernels are tested against (same seed, same trajectories to
1e-9) and the "plain Mesa" baseline of the benchmarks. It is slow on purpose: clarity first.

The day is synchronous, as in the kernels: every method reads today's values and writes
``self.next[...]``; ``commit`` makes tomorrow today once everyone has been updated.

What it shares with the production code: the parameters, the counter-based random-number
streams (``rng``: the random numbers are not under test), the state layout, and the base network
as *input data*: the tie list of ``network.build_network``'s graph (or any graph given to
``ReferenceModel``) is an input to the dynamics, like a user's edge list (ODD §6.1); the generator
itself is checked against ODD §5.3 statistically in tests/test_spec_day0.py. The day-0 population
and community properties (``day0_state``, ``day0_communities``, from ODD §5.1-5.2), the daily
rules and the recorded outcomes and flows (``summarize_people``, from ODD §4.11, not from
``recorder.py``) are its own, so a bug in a kernel, in the day-0 population or in the summary
shows as a mismatch; a wrong network generator does not (tests/test_spec_day0.py looks for it).
"""

from __future__ import annotations

import copy
import math

import mesa
import numpy as np
from scipy import special

from .network import CSRGraph, build_network
from .params import PLATFORMS, ModelParams, community_names, community_setting, set_param, validate
from .rng import DAY_STREAMS, step_key, uniform_py
from .state import DYNAMIC, STATIC, State

# ODD §7.5: peer norms are read in steps of 1/16383 of self-stigma.
STIGMA_LEVELS = 16383

# Today's flows when nothing happened (what a submodel that does not run leaves).
NO_FLOWS = {
    "joined": 0, "left": 0, "posted": 0, "post_misinfo": 0, "post_accurate": 0, "post_aware": 0,
    "reads": 0.0, "support": 0.0, "lam_misinfo": 0.0, "lam_accurate": 0.0, "lam_aware": 0.0,
    "anti": 0.0, "hostile": 0, "adopted": 0, "corrected": 0, "sought": 0, "entered_care": 0,
    "enrolled_new": 0, "disclosed_new": 0, "harmed": 0, "acute_new": 0,
}  # fmt: skip


def clip01(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def _choose(ids: list[int], weight, v: float) -> int:
    """The community of ``ids`` chosen with probability proportional to ``weight`` by the uniform
    draw ``v``: the first whose cumulative weight exceeds ``v`` times the total (ODD §7.1)."""
    total = sum(float(weight[k]) for k in ids)
    acc = 0.0
    for k in ids:
        acc += float(weight[k])
        if acc > v * total:
            return k
    return ids[-1]


class Person(mesa.Agent):
    """A person with serious mental illness, with every state variable as an attribute."""

    def __init__(self, model: ReferenceModel, index: int, static: dict, dynamic: dict):
        super().__init__(model)
        self.index = index
        for k, v in static.items():
            setattr(self, k, v)
        for k, v in dynamic.items():
            setattr(self, k, v)
        self.next: dict = {}
        self.today: dict = {}  # what happened today: posts, exposures, hostile comments
        self.neighbours: list[Person] = []

    def u(self, stream: str, draw: int) -> float:
        """This person's uniform draw ``draw`` of a mechanism today (same as the kernels')."""
        return self.model.uniform(stream, self.index, draw)

    # 1. Entry: the critical point of joining an online community of peers, and leaving it.
    def decide_membership(self) -> None:
        """ODD §7.1: join, leave, or move to another community chosen by its attraction."""
        th, c = self.model.th, self.community
        joined = left = 0
        open_ids = self.model.open_ids
        weight = self.model.attraction  # of each community
        if c < 0:
            if (
                open_ids
                and th["entry"] > 0.0
                and self.u("membership", 0) < th["join_rate"] * self.use
            ):
                # Home with probability home_bias, if it is open today; else a choice by weight.
                c = self.home
                if not self.u("membership", 1) < th["home_bias"] or c not in open_ids:
                    c = _choose(open_ids, weight, self.u("membership", 2))
                joined = 1
        else:
            if c not in open_ids:
                go = True  # the community closed today: everyone leaves it
            else:
                p = (
                    th["leave_rate"]
                    * (1.0 + th["leave_after_hostility"] * self.hostile_recent)
                    * (1.0 - th["belonging_retention"] * self.belonging)
                    # having been harmed by a disclosure drives people away (ODD §7.12)
                    * (1.0 + th["privacy"] * th["harm_leave"] * self.privacy_harm)
                )
                go = self.u("membership", 0) < p
            if go:
                left = 1
                others = [k for k in open_ids if k != c]
                if others and self.u("membership", 3) < th["switch_share"]:
                    c = _choose(others, weight, self.u("membership", 4))
                    joined = 1
                else:
                    c = -1
        self.next["community"] = c
        self.next["ever_online"] = 1 if (self.ever_online == 1 or c >= 0) else 0
        self.today.update(joined=joined, left=left)

    # 2. Lurk or post; some posts carry health information, misleading if the poster is misled.
    def decide_post(self) -> None:
        th = self.model.th
        posted = post_misinfo = post_accurate = post_aware = 0
        if self.next["community"] >= 0 and self.u("posting", 0) < th["role_rates"][self.role]:
            posted = 1
            post_aware = 1 if self.misinfo >= 1 else 0  # knows the current misleading claim
            if self.u("posting", 1) < th["health_post_share"]:
                if self.misinfo == 1 and th["misinformation"] > 0.0:
                    post_misinfo = 1
                else:
                    post_accurate = 1
        self.today.update(
            posted=posted,
            post_misinfo=post_misinfo,
            post_accurate=post_accurate,
            post_aware=post_aware,
        )
        self.next["ever_posted"] = 1 if (self.ever_posted == 1 or posted == 1) else 0
        self.next["posts"] = self.posts + posted
        # Roles change (ODD §7.2): belonging draws lurkers in; contributors and superusers burn
        # out, sooner after hostile comments.
        role = self.role
        if self.next["community"] >= 0 and th["role_change"] > 0.0:
            down = th["burnout"] * (1.0 + th["burnout_hostility"] * self.hostile_recent)
            if role == 0:
                if self.u("posting", 2) < th["become_contributor"] * self.belonging:
                    role = 1
            elif role == 1:
                v = self.u("posting", 2)
                if v < th["become_superuser"]:
                    role = 2
                elif v >= 1.0 - down:
                    role = 0
            elif self.u("posting", 2) < down:
                role = 1
        self.next["role"] = role

    # 3 is the community feed (``ReferenceModel.compute_feeds``); 4: what this person meets today.
    def exchange(self) -> None:
        th, m = self.model.th, self.model
        c = self.next["community"]
        if c < 0:
            self.today.update(
                reads=0.0, support=0.0, lam_misinfo=0.0, lam_accurate=0.0, lam_aware=0.0, anti=0.0,
                hostile=0, norm_stigma=self.stigma,
            )  # fmt: skip
            return
        tie_posts = tie_misinfo = tie_accurate = tie_aware = 0.0
        peers_stigma, peers = 0, 0
        for other in self.neighbours:
            if other.next["community"] == c:
                tie_posts += other.today["posted"]
                tie_misinfo += other.today["post_misinfo"]
                tie_accurate += other.today["post_accurate"]
                tie_aware += other.today["post_aware"]
                # Peer norms see self-stigma in steps of 1/16383 (how the kernels pack it).
                peers_stigma += math.floor(other.stigma * STIGMA_LEVELS + 0.5)
                peers += 1
        feed = m.feeds[c]
        reads = min(th["read_rate"] * self.use, feed["volume"])
        keep = 1.0 - feed["moderation"] * th["moderation_efficacy"]
        posted = self.today["posted"]
        # ODD §7.4: only supportive content supports — not a misleading tie post, nor the
        # misleading or hostile part of the feed read.
        hostile_read = (
            th["hostility"] * feed["hostility"] * keep * th["hostile_per_read"]
            * feed["member_share"]
        )  # fmt: skip
        by_content = th["support_by_content"]  # off: every post read supports
        supportive = (
            tie_posts - by_content * tie_misinfo
            + reads * max(0.0, 1.0 - by_content * (feed["misinfo"] + hostile_read))
            + 2.0 * posted
        )  # fmt: skip
        support = th["peer_support"] * (1.0 - math.exp(-th["support_per_post"] * supportive))
        lam_h = (
            th["hostility"]
            * feed["hostility"]
            * keep
            * (posted + th["hostile_per_read"] * reads * feed["member_share"])
        )
        if self.diagnosis == 0:  # psychosis content draws more derogatory comments
            lam_h *= th["psychosis_hostility"]
        self.today.update(
            reads=reads,
            support=support,
            lam_misinfo=th["misinformation"] * keep * tie_misinfo + reads * feed["misinfo"],
            lam_accurate=tie_accurate + reads * feed["accurate"],
            lam_aware=tie_aware + reads * feed["aware"],
            norm_stigma=peers_stigma / peers / STIGMA_LEVELS if peers > 0 else self.stigma,
            anti=reads * feed["anti_stigma"],
            hostile=1 if self.u("hostility", 0) < 1.0 - math.exp(-lam_h) else 0,
        )

    # 5. Disclosure: a post may disclose one's diagnosis; a disclosure may harm (ODD §7.12).
    def update_privacy(self) -> None:
        th, c = self.model.th, self.next["community"]
        disclosed, new, harmed = self.disclosed, 0, 0
        if th["privacy"] > 0.0 and c >= 0:
            feed = self.model.feeds[c]
            if disclosed == 0 and self.today["posted"] == 1:
                if self.u("privacy", 0) < th["disclose_per_post"] * feed["disclosure"]:
                    disclosed, new = 1, 1
            if disclosed == 1 and self.u("privacy", 1) < th["harm_rate"] * feed["exposure"]:
                harmed = 1
        self.next["disclosed"] = disclosed
        self.next["privacy_harm"] = 1 if (self.privacy_harm == 1 or harmed == 1) else 0
        self.today.update(disclosed_new=new, harmed=harmed)

    def hostility_weight(self) -> float:
        """A hostile comment weighs more on a vulnerable person (ODD §7.5)."""
        th = self.model.th
        return 1.0 + th["vulnerability"] * (th["vulnerable_hostility"] - 1.0) * self.vulnerable

    # 6. Peer support builds belonging on offline connectedness; empowerment and hope lower
    #    self-stigma; hostility and privacy harms hurt.
    def update_social(self) -> None:
        th, d = self.model.th, self.today
        sup, h = d["support"], float(d["hostile"]) * self.hostility_weight()
        b, e, s = self.belonging, self.empowerment, self.stigma
        sw = th["stigma_pathway"]
        online = 1.0 if self.next["community"] >= 0 else 0.0
        displaced = th["displacement"] * th["offline_displacement"] * self.use * online
        offline_part = self.belonging_offline * (1.0 - displaced)
        self.next["belonging"] = clip01(
            b
            + th["belonging_gain"] * sup * (1.0 - b)
            - th["belonging_decay"] * (b - offline_part)
            - h * th["hostility_belonging_loss"] * b
        )
        self.next["empowerment"] = clip01(
            e
            + sw * th["empowerment_gain"] * sup * (1.0 - e)
            - th["empowerment_relaxation"] * (e - self.empowerment0)
            - h * th["hostility_empowerment_loss"] * e
        )
        campaign = 1.0 - math.exp(-d["anti"])
        self.next["stigma"] = clip01(
            s
            - sw * (th["stigma_reduction"] * sup * e + th["campaign_effect"] * campaign) * s
            + h * th["hostility_stigma_gain"] * (1.0 - s)
            + th["privacy"] * th["harm_stigma"] * d["harmed"] * (1.0 - s)
            + th["stigma_relaxation"] * (self.stigma0 - s)
            + sw * th["peer_norm_weight"] * (d["norm_stigma"] - s)
        )
        self.next["hostile_recent"] = th["hostility_memory"] * self.hostile_recent + d["hostile"]

    def trust_weight(self) -> float:
        """How much of an online post this person takes in: trust over its population mean."""
        th = self.model.th
        return self.trust / th["trust_mean"] if th["trust"] > 0.0 else 1.0

    # 7. Misleading beliefs: adopted from misleading posts and items met outside peer
    #    communities, corrected by moderators, peers, care and correcting items met outside.
    def update_misinformation(self) -> None:
        th, d = self.model.th, self.today
        m, adopted, corrected = self.misinfo, 0, 0
        w, off = self.trust_weight(), th["offline_information"]
        same_day = th["renewal_same_day"] > 0.0  # renewed this morning: can be misled today
        if m == 2 and same_day and self.u("misinfo", 2) < th["misinfo_renewal"]:
            m = 0
        if m == 0:
            if th["misinformation"] > 0.0:
                hazard = (
                    th["misinfo_adoption"] * w * d["lam_misinfo"]
                    + off * th["misinfo_effect"] * th["offline_misinfo"]
                )
                if self.u("misinfo", 0) < 1.0 - math.exp(-hazard):
                    m, adopted = 1, 1
        elif m == 1:
            c = self.next["community"]
            rate = off * th["correction_effect"] * th["offline_correction"]
            if c >= 0:
                feed = self.model.feeds[c]
                rate += (
                    feed["moderation"] * th["correction_moderator"]
                    + th["correction_peer"] * w * d["lam_accurate"]
                    # a misleading post of today draws correcting replies from accurate posters
                    + th["correction_reply"] * feed["accurate"] * d["post_misinfo"]
                )
            if self.care == 2:
                rate += th["correction_clinician"]
            hazard = (
                th["correction"] * rate + th["stifling"] * d["lam_aware"]
            )  # stifling: others know it
            if self.u("misinfo", 1) < 1.0 - math.exp(-hazard):
                m, corrected = 2, 1
        elif not same_day and self.u("misinfo", 2) < th["misinfo_renewal"]:
            m = 0
        self.next["misinfo"] = m
        self.today.update(adopted=adopted, corrected=corrected)

    # 8. Learning from peers raises activation; misleading content and hostility raise
    #    uncertainty; what people meet moves their trust in online health information.
    def update_activation(self) -> None:
        th, d = self.model.th, self.today
        u, a, tau = self.uncertainty, self.activation, self.trust
        learn = 1.0 - math.exp(-self.trust_weight() * d["lam_accurate"])
        conflict = 1.0 - math.exp(-(d["lam_misinfo"] + d["hostile"]))
        self.next["uncertainty"] = clip01(
            u
            + th["uncertainty"] * th["uncertainty_gain"] * conflict * (1.0 - u)
            - th["uncertainty_relief"] * learn * u
            + th["uncertainty_relaxation"] * (self.uncertainty0 - u)
        )
        misled = 1.0 if self.misinfo == 1 else 0.0
        a_new = (
            a
            + th["activation_pathway"]
            * th["learning_gain"]
            * learn
            * (1.0 + th["empowerment_boost"] * self.empowerment)
            * (100.0 - a)
            - th["misinfo_drag"] * misled * a
            - th["uncertainty_drag"] * max(u - self.uncertainty0, 0.0) * a
            + th["relaxation"] * (self.activation0 - a)
        )
        self.next["activation"] = min(max(a_new, 0.0), 100.0)
        c = self.next["community"]
        online = 1.0 if c >= 0 else 0.0
        q = self.model.feeds[c]["moderation"] if c >= 0 else 0.0
        gain = th["trust_learning_gain"] * learn + th["trust_moderation_gain"] * q
        found_out = th["trust_found_out_loss"] * d["corrected"] * online  # misled, and found out
        loss = found_out + th["trust_hostility_loss"] * d["hostile"]
        self.next["trust"] = clip01(
            tau
            + th["trust"] * (gain * (1.0 - tau) - loss * tau)
            + th["trust_relaxation"] * (self.trust0 - tau)
        )

    # 9. Care-seeking follows activation, held back by self-stigma and misleading beliefs;
    #    care ends by completing it (recovery) or by disengaging.
    def update_care(self) -> None:
        th = self.model.th
        c, a = self.care, self.activation
        sought = entered = 0
        misled = 1.0 if self.misinfo == 1 else 0.0
        if c in (0, 3):
            learn = 1.0 - math.exp(-self.trust_weight() * self.today["lam_accurate"])
            p = (
                th["seek_rate"]
                * math.exp(th["seek_activation_slope"] * (a - 55.0))
                * (1.0 - th["seek_stigma_barrier"] * self.stigma)
                * (1.0 - th["seek_misinfo_barrier"] * misled)
                * (1.0 + th["activation_pathway"] * th["peer_encouragement"] * learn)
            )
            if c == 3:
                p *= th["reseek_factor"]
            if self.u("care", 0) < p:
                c, sought = 1, 1
        elif c == 1:
            if self.u("care", 0) < th["entry_rate"]:
                c, entered = 2, 1
        else:
            p = (
                th["disengage_rate"]
                * (1.0 + th["disengage_misinfo"] * misled)
                * (1.0 - th["disengage_activation"] * a / 100.0)
                * (1.0 - th["intervention_pathway"] * th["engagement_effect"] * self.enrolled)
            )
            if self.u("care", 1) < th["completion_rate"] * self.recovery:
                c = 0  # completed care: recovered enough to leave it
            elif self.u("care", 0) < p:
                c = 3
        self.next["care"] = c
        self.today.update(sought=sought, entered_care=entered)

    # 10. Online interventions: members of a hosting community enrol; leaving or dropout ends it.
    def update_intervention(self) -> None:
        th = self.model.th
        e, new, c = self.enrolled, 0, self.next["community"]
        hosts = (
            th["intervention_pathway"] > 0.0 and c >= 0 and self.model.feeds[c]["intervention"] == 1
        )
        if e == 1:
            if not hosts or self.u("intervention", 1) < th["dropout_rate"]:
                e = 0
        elif hosts and self.u("intervention", 0) < th["enrol_rate"] * self.activation / 100.0:
            e, new = 1, 1
        self.next["enrolled"] = e
        self.today["enrolled_new"] = new

    # 11. Mental and physical wellbeing approach targets set by the other states.
    def update_wellbeing(self) -> None:
        th = self.model.th
        in_care = 1.0 if self.care == 2 else 0.0
        enrolled = th["intervention_pathway"] * self.enrolled
        target_mental = (
            self.wm_base
            + th["belonging_effect"] * self.belonging
            + th["empowerment_effect"] * (self.empowerment - self.empowerment0)
            - th["stigma_effect"] * (self.stigma - self.stigma0)
            - th["uncertainty_effect"] * (self.uncertainty - self.uncertainty0)
            + th["care_effect_mental"] * in_care
            + th["mental_effect"] * enrolled
        )
        wm = self.wellbeing_mental
        self.next["wellbeing_mental"] = clip01(
            wm
            + th["adjust_rate"] * (target_mental - wm)
            - th["hostility_shock"] * self.today["hostile"] * self.hostility_weight()
        )
        target_physical = (
            self.wp_base + th["care_effect_physical"] * in_care + th["physical_effect"] * enrolled
        )
        wp = self.wellbeing_physical
        self.next["wellbeing_physical"] = clip01(wp + th["adjust_rate"] * (target_physical - wp))

    # 12. Offline outcomes: do gains made online carry into recovery and employment? Acute care.
    def update_offline(self) -> None:
        th = self.model.th
        in_care = 1.0 if self.care == 2 else 0.0
        r = self.recovery
        target = (
            self.r_base
            + th["offline_translation"]
            * (
                th["recovery_wellbeing"] * (self.wellbeing_mental - self.wellbeing_mental0)
                + th["recovery_activation"] * (self.activation - self.activation0) / 100.0
            )
            + th["recovery_care"] * in_care
        )
        self.next["recovery"] = clip01(r + th["recovery_rate"] * (target - r))
        e = self.employed
        if e == 0:
            if self.u("offline", 0) < th["employment_gain"] * r:
                e = 1
        elif self.today["harmed"] == 1 and (
            self.u("offline", 1) < th["privacy"] * th["harm_employment"]
        ):
            e = 0  # a disclosure that harmed today cost work or education
        elif self.u("offline", 0) < th["employment_loss"] * (1.0 - r):
            e = 0
        self.next["employed"] = e
        # Acute care: more often for vulnerable people and when mental wellbeing is low.
        p_acute = (
            th["acute_rate"]
            * (th["acute_vulnerable_ratio"] if self.vulnerable == 1 else 1.0)
            * math.exp(
                th["acute_wellbeing_effect"] * (self.wellbeing_mental0 - self.wellbeing_mental)
            )
        )
        event = 1 if self.u("offline", 2) < p_acute else 0
        self.next["acute_visits"] = self.acute_visits + event
        self.today["acute_new"] = event

    # 13. Tomorrow becomes today.
    def commit(self) -> None:
        for k, v in self.next.items():
            setattr(self, k, v)


class ReferenceModel(mesa.Model):
    """Plain per-agent Mesa version of :class:`~peerwell.simulation.model.PeerwellModel`.

    Starts from the same day-0 population and network as the Numba model and follows the same
    rules with the same random numbers, person by person.
    """

    def __init__(self, params: ModelParams | None = None, graph: CSRGraph | None = None):
        """``graph``: the base network, input data (ODD §6.1); by default the one
        ``network.build_network`` makes for these parameters from the reference's own homes."""
        params = validate(copy.deepcopy(params) if params is not None else ModelParams())
        super().__init__(rng=params.seed)
        self.params = params
        self.day = 0
        self.n_communities = len(community_names(params))
        st = day0_state(params)
        if graph is None:
            graph = build_network(params, st.static["home"])
        assert graph.n == params.population.size, "the graph must have one node per person"
        self._comm_state = st  # community properties live in arrays set from parameters
        self._set_theta()
        self.people: list[Person] = []
        for i in range(params.population.size):
            static = {k: st.static[k][i].item() for k in STATIC}
            dynamic = {k: st.cur[k][i].item() for k in DYNAMIC}
            self.people.append(Person(self, i, static, dynamic))
        for i, p in enumerate(self.people):
            p.neighbours = [
                self.people[j] for j in graph.indices[graph.indptr[i] : graph.indptr[i + 1]]
            ]
        self.feeds: list[dict] = []
        self._fire_events(0)

    def _set_theta(self) -> None:
        """Parameters by their short names (the field names are unique across groups)."""
        self.th: dict[str, float] = {}
        for group in (
            "mechanisms",
            "entry",
            "exchange",
            "stigma",
            "activation",
            "care",
            "intervention",
            "wellbeing",
            "offline",
            "information",
            "privacy",
            "roles",
        ):
            for k, v in vars(getattr(self.params, group)).items():
                self.th[k] = float(v)
        # Groups whose names would clash with others' get their group's prefix.
        for group in ("trust", "acute"):
            for k, v in vars(getattr(self.params, group)).items():
                self.th[f"{group}_{k}"] = float(v)
        self.th["trust_mean"] = float(self.params.population.trust_mean)
        pop = self.params.population
        self.th["role_rates"] = (pop.post_rate_lurker, pop.post_rate_contributor,
                                 pop.post_rate_superuser)  # fmt: skip

    def _fire_events(self, day: int) -> None:
        todays = [e for e in self.params.scenario.events if e.day == day]
        for ev in todays:
            set_param(self.params, ev.param, ev.value)
        if todays:
            self._set_theta()
            day0_communities(self.params, self._comm_state.comm)

    def uniform(self, stream: str, person: int, draw: int) -> float:
        from .rng import uniform_py

        return uniform_py(self._keys[stream], person, draw)

    def compute_feeds(self, on: bool = True) -> None:
        """3. Each community's feed as its real members write it (ODD §7.3): the simulated
        members' expected posts scaled to the community's real size; empty feeds (no volume)
        when the feed submodel does not run."""
        th, cs = self.th, self._comm_state.comm
        hs = th["health_post_share"]
        rates: list[list[float]] = [[] for _ in range(self.n_communities)]
        misled: list[list[bool]] = [[] for _ in range(self.n_communities)]
        knows: list[list[bool]] = [[] for _ in range(self.n_communities)]
        for p in self.people if on else ():
            c = p.next["community"]
            if c >= 0:
                rates[c].append(th["role_rates"][p.role])
                misled[c].append(p.misinfo == 1 and th["misinformation"] > 0.0)
                knows[c].append(p.misinfo >= 1)
        self.feeds = []
        for c in range(self.n_communities):
            m = len(rates[c])
            moderation = float(cs["moderation"][c])
            # Real members' posts a day: the mean simulated member's rate times the real size.
            posts = float(cs["size"][c]) * (sum(rates[c]) / m) if m else 0.0
            mis = sum(r for r, x in zip(rates[c], misled[c]) if x) * hs / m if m else 0.0
            acc = sum(r for r, x in zip(rates[c], misled[c]) if not x) * hs / m if m else 0.0
            aware = sum(r for r, x in zip(rates[c], knows[c]) if x) / m if m else 0.0
            size = float(cs["size"][c])
            sup = float(cs["supporters"][c]) * th["supporter_post_rate"] if m else 0.0
            volume = posts + sup
            prev = th["misinformation"] * float(cs["misinfo_prevalence"][c])
            feed = {
                "members": m,
                "volume": volume,
                "moderation": moderation,
                "hostility": float(cs["hostility"][c]),
                "anti_stigma": float(cs["anti_stigma"][c]),
                "intervention": int(cs["intervention"][c]),
                "disclosure": float(cs["disclosure"][c]),
                "exposure": float(cs["exposure"][c]),
                "misinfo": 0.0,
                "accurate": 0.0,
                "aware": 0.0,
                "member_share": 0.0,
            }
            if volume > 0.0:
                keep = 1.0 - moderation * th["moderation_efficacy"]
                # Outside misleading content and hostile replies come with members' own posts;
                # peer supporters' posts add clean, partly health-related volume.
                feed["misinfo"] = (
                    th["misinformation"]
                    * keep
                    * (prev * posts + (1.0 - prev) * size * mis)
                    / volume
                )
                feed["accurate"] = ((1.0 - prev) * size * acc + sup * hs) / volume
                feed["aware"] = size * aware / volume
                feed["member_share"] = posts / volume
            self.feeds.append(feed)

    def step(self) -> None:
        """One day: every mechanism for everyone, in the order of ``loop.run_day``."""
        if self.day > 0:
            self._fire_events(self.day)
        seed, day = self.params.seed, self.day
        self._keys = {name: step_key(seed, stream, day) for name, stream in DAY_STREAMS.items()}
        on = self.params.submodels
        cs = self._comm_state.comm
        self.open_ids = [
            c for c in range(self.n_communities) if cs["opens"][c] <= day < cs["closes"][c]
        ]
        entry, hostility_on = self.params.entry, self.params.mechanisms.hostility
        self.attraction = [
            math.exp(entry.attract_moderation * float(cs["moderation"][c])
                     - entry.attract_hostility * float(cs["hostility"][c]) * hostility_on)
            for c in range(self.n_communities)
        ]  # fmt: skip
        for p in self.people:
            # A submodel that does not run leaves its variables as they are (commit sets only
            # what ran) and its flows at nothing happened; peer norms are then one's own stigma.
            p.today = {**NO_FLOWS, "norm_stigma": p.stigma}
            p.next = {"community": p.community}
        for p in self.people:
            if on.membership:
                p.decide_membership()
        for p in self.people:
            if on.posting:
                p.decide_post()
        self.compute_feeds(on.feed)
        for p in self.people:
            if on.exchange:
                p.exchange()
        for p in self.people:
            if on.privacy:
                p.update_privacy()
        updates = [
            getattr(Person, f"update_{name}")
            for name in ("social", "misinformation", "activation", "care", "intervention",
                         "wellbeing", "offline")
            if getattr(on, name)
        ]  # fmt: skip
        for p in self.people:
            for update in updates:
                update(p)
        for p in self.people:
            p.commit()
        self.day += 1

    def to_state(self) -> State:
        """The people's attributes gathered back into arrays (to compare with the Numba model)."""
        n = len(self.people)
        st = State.empty(n, self.n_communities)
        for k in DYNAMIC:
            st.cur[k][:] = np.array([getattr(p, k) for p in self.people])
        for k in STATIC:
            st.static[k][:] = np.array([getattr(p, k) for p in self.people])
        return st

    def summary(self) -> dict[str, float]:
        """The recorded outcomes and today's flows, person by person, as ODD §4.11 defines them
        (an independent twin of ``recorder.summarize``, which sums them in a Numba pass)."""
        return summarize_people(self.people, self.day)


# ---------------------------------------------------------------------------------------------
# The outcomes, as ODD §4.11 defines them (written from the ODD, not from recorder.py)

# PAM levels: Hibbard's L1 <= 47.0, L2 47.1-55.1, L3 55.2-67.0, L4 >= 67.1, cut at 47.05, 55.15,
# 67.05 (the level is the number of cut-points below the score).
ODD_PAM_CUTS = (47.05, 55.15, 67.05)
ODD_STIGMA_HIGH = 0.5  # moderate/high self-stigma: above ISMI 2.5 on its 1-4 scale
ODD_DIAGNOSES = ("schizophrenia", "bipolar", "depression")
ODD_FLOWS = {
    "flow_joins": "joined", "flow_leaves": "left", "flow_posts": "posted",
    "flow_support": "support", "flow_accurate_info": "lam_accurate",
    "flow_misinfo_exposure": "lam_misinfo", "flow_hostile": "hostile",
    "flow_misinfo_adopted": "adopted", "flow_corrected": "corrected",
    "flow_new_seekers": "sought", "flow_care_entries": "entered_care",
    "flow_enrolments": "enrolled_new", "flow_disclosures": "disclosed_new",
    "flow_privacy_harms": "harmed", "flow_acute_care": "acute_new",
}  # fmt: skip


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _population_sd(values: list[float]) -> float:
    m = _mean(values)
    return math.sqrt(max(_mean([v * v for v in values]) - m * m, 0.0))


def _content_shares(posts: list[int]) -> tuple[float, float, float]:
    """Shares of all posts so far written by the bottom 90%, the next 9% and the top 1% of the
    people ever online, ranked by their posts so far (van Mierlo 2014's classes, ODD §4.11)."""
    ranked = sorted(posts, reverse=True)
    total = sum(ranked)
    if total == 0:
        return 0.0, 0.0, 0.0
    top1 = sum(ranked[: math.ceil(0.01 * len(ranked))])
    top10 = sum(ranked[: math.ceil(0.10 * len(ranked))])
    return (total - top10) / total, (top10 - top1) / total, top1 / total


def summarize_people(people: list[Person], day: int) -> dict[str, float]:
    """Every outcome column and daily flow of ODD §4.11, from the people themselves."""
    n = len(people)
    out: dict[str, float] = {}

    def share(test) -> float:
        return sum(1 for p in people if test(p)) / n

    act = [p.activation for p in people]
    out["activation_mean"], out["activation_sd"] = _mean(act), _population_sd(act)
    for k in range(4):
        out[f"pam_level{k + 1}_share"] = share(
            lambda p, k=k: sum(1 for cut in ODD_PAM_CUTS if p.activation >= cut) == k
        )
    for name, state in (("not_seeking", 0), ("seeking", 1), ("in_care", 2), ("disengaged", 3)):
        out[f"{name}_share"] = share(lambda p, state=state: p.care == state)
    out["care_seeking_share"] = share(lambda p: p.care in (1, 2))
    for name, attr in (
        ("wellbeing_mental", "wellbeing_mental"), ("wellbeing_physical", "wellbeing_physical"),
        ("self_stigma", "stigma"), ("belonging", "belonging"), ("empowerment", "empowerment"),
        ("uncertainty", "uncertainty"), ("recovery", "recovery"), ("trust", "trust"),
    ):  # fmt: skip
        values = [getattr(p, attr) for p in people]
        out[f"{name}_mean"], out[f"{name}_sd"] = _mean(values), _population_sd(values)
    out["stigma_moderate_high_share"] = share(lambda p: p.stigma > ODD_STIGMA_HIGH)
    out["belonging_online_mean"] = _mean([p.belonging for p in people if p.community >= 0])
    out["misinformation_belief_mean"] = share(lambda p: p.misinfo == 1)
    out["belief_accuracy_mean"] = 1.0 - out["misinformation_belief_mean"]
    out["misinformation_corrected_share"] = share(lambda p: p.misinfo == 2)
    out["online_share"] = share(lambda p: p.community >= 0)
    out["ever_online_share"] = share(lambda p: p.ever_online == 1)
    ever = [p for p in people if p.ever_online == 1]
    out["ever_posted_share"] = _mean([float(p.ever_posted) for p in ever])
    shares = _content_shares([p.posts for p in ever])
    for role, value in zip(("lurker", "contributor", "superuser"), shares):
        out[f"content_share_{role}"] = value
    out["enrolled_share"] = share(lambda p: p.enrolled == 1)
    out["employed_share"] = share(lambda p: p.employed == 1)
    out["disclosed_share"] = share(lambda p: p.disclosed == 1)
    out["privacy_harm_share"] = share(lambda p: p.privacy_harm == 1)
    visits = sum(p.acute_visits for p in people)
    out["acute_care_rate"] = visits / (n * day / 365.0) if day > 0 else 0.0
    for column, flow in ODD_FLOWS.items():
        out[column] = float(sum(p.today.get(flow, 0) for p in people))
    for k, name in enumerate(ODD_DIAGNOSES):
        group = [p for p in people if p.diagnosis == k]
        out[f"activation_mean_{name}"] = _mean([p.activation for p in group])
        out[f"self_stigma_mean_{name}"] = _mean([p.stigma for p in group])
        out[f"in_care_share_{name}"] = _mean([float(p.care == 2) for p in group])
        out[f"wellbeing_mental_mean_{name}"] = _mean([p.wellbeing_mental for p in group])
    return {k: float(v) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------
# Day 0, from ODD §5.1 (people) and §5.2 (communities): the reference's own twin of
# ``population.init_state``, person by person. It shares with the production code only the
# counter-based uniforms (``rng.uniform_py``: the random numbers are not under test), the state
# layout and the parameters. Which draw index feeds which variable is read from population.py
# (the ODD names only 3, 4, 16, 18 and 19); everything else is written from the ODD's text, and
# where the ODD is silent and the code had to be read, the comment says "(code)".

# Draw indices of ODD §5 (u_{i,d}, stream 1 at step 0).
D_DIAGNOSIS, D_PAM, D_STIGMA, D_USE, D_ONLINE, D_HOME_CHOICE, D_OTHER = 0, 1, 2, 3, 4, 5, 6
D_ROLE, D_MISINFO, D_UNCERTAINTY, D_CARE, D_EMPLOYED, D_EMPOWER = 7, 8, 9, 10, 11, 12
D_WB_MENTAL, D_WB_PHYSICAL, D_RECOVERY, D_BELONGING, D_HOME = 13, 14, 15, 16, 17
D_VULNERABLE, D_TRUST = 18, 19
STREAM_INIT = 1  # ODD §4.9: stream 1 draws the initial population

# ODD §8, fixed constants, and §7.12's table: per platform the hostility multiplier, the
# moderation floor, the disclosure norm and the exposure before moderation.
ODD_PLATFORM_HOSTILITY = {"facebook_group": 1.0, "youtube": 1.2, "twitter": 1.6, "forum": 0.8,
                          "moderated_platform": 0.5}  # fmt: skip
ODD_MODERATION_FLOOR = {"moderated_platform": 0.8}
ODD_DISCLOSURE = {"facebook_group": 1.0, "youtube": 1.5, "twitter": 1.0, "forum": 0.6,
                  "moderated_platform": 1.0}  # fmt: skip
ODD_EXPOSURE = {"facebook_group": 1.0, "youtube": 1.0, "twitter": 1.0, "forum": 0.4,
                "moderated_platform": 0.2}  # fmt: skip
# (code) ``closes`` of a community that never closes.
NEVER = np.iinfo(np.int64).max

# (code) The ODD says "drawn by inverse CDF" and is silent on the numerics. The day-0 state must
# agree with the production one to the bit (the dynamics are compared to 1e-9), so the inverse
# Beta CDF is evaluated as population.py does: tabulated on a grid even in logit(u) from -40 to
# 40 (20,001 points), linear interpolation, u clipped to [1e-17, 1 - 1e-17], the result to [0, 1]
# (within 1e-6 of the exact quantile: tests/test_population.py). Normal quantiles clip u to
# [1e-12, 1 - 1e-12].
_GRID_LOGIT = np.linspace(-40.0, 40.0, 20_001)
_GRID_U = special.expit(_GRID_LOGIT)
_beta_tables: dict[tuple[float, float], np.ndarray] = {}


def _beta_quantile(u: float, mean: float, concentration: float) -> float:
    """F⁻¹ of Beta(mean, concentration) (shapes mean·κ, (1 - mean)·κ) at u."""
    a, b = mean * concentration, (1 - mean) * concentration
    if (a, b) not in _beta_tables:
        _beta_tables[(a, b)] = special.betaincinv(a, b, _GRID_U)
    z = special.logit(min(max(u, 1e-17), 1 - 1e-17))
    return min(max(float(np.interp(z, _GRID_LOGIT, _beta_tables[(a, b)])), 0.0), 1.0)


def _normal_quantile(u: float) -> float:
    return float(special.ndtri(min(max(u, 1e-12), 1 - 1e-12)))


def _correlated(z_common: float, u_own: float, rho: float) -> float:
    """ρ·z_common + √(1 - ρ²)·z_own, a standard normal correlated ρ with z_common (ODD §5.1.4)."""
    z_own = _normal_quantile(u_own)
    return z_own if rho == 0.0 else rho * z_common + math.sqrt(1.0 - rho * rho) * z_own


def day0_communities(params: ModelParams, comm: dict[str, np.ndarray]) -> None:
    """ODD §5.2 into the community arrays ``comm`` (again whenever a timed event fires, §6.2)."""
    c, names, own = params.communities, community_names(params), params.community or {}
    for k, name in enumerate(names):
        setting = (lambda prop, name=name: community_setting(params, name, prop)) if name in own \
            else None  # fmt: skip
        platform = setting("platform") if setting else c.platforms[k % len(c.platforms)]
        moderation = setting("moderation") if setting else c.moderation
        hostility = setting("hostility") if setting else c.hostility
        comm["platform"][k] = PLATFORMS.index(platform)
        comm["moderation"][k] = max(moderation, ODD_MODERATION_FLOOR.get(platform, 0.0))
        comm["hostility"][k] = min(hostility * ODD_PLATFORM_HOSTILITY[platform], 1.0)
        for key, prop in (("misinfo_prevalence", "misinformation_prevalence"),
                          ("supporters", "peer_supporters"), ("size", "size"),
                          ("anti_stigma", "anti_stigma_content")):  # fmt: skip
            comm[key][k] = setting(prop) if setting else getattr(c, prop)
        comm["intervention"][k] = (
            bool(setting("intervention")) if setting
            else k < min(c.intervention_communities, c.count)
        )  # fmt: skip
        comm["disclosure"][k] = ODD_DISCLOSURE[platform]
        keep = 1.0 - comm["moderation"][k] * params.exchange.moderation_efficacy
        comm["exposure"][k] = ODD_EXPOSURE[platform] * keep
        comm["opens"][k] = own[name].opens if name in own else 0
        closes = own[name].closes if name in own else None
        comm["closes"][k] = NEVER if closes is None else closes
        e = params.entry  # §7.1: what draws a chooser
        comm["attraction"][k] = math.exp(
            e.attract_moderation * comm["moderation"][k]
            - e.attract_hostility * comm["hostility"][k] * float(params.mechanisms.hostility)
        )


def day0_state(params: ModelParams) -> State:
    """ODD §5.1 (people) and §5.2 (communities), one person at a time."""
    p, n, c_count = params.population, params.population.size, params.communities.count
    st = State.empty(n, len(community_names(params)))
    key = step_key(params.seed, STREAM_INIT, 0)
    day0_communities(params, st.comm)
    open0 = [st.comm["opens"][k] <= 0 < st.comm["closes"][k] for k in range(c_count)]
    open_ids = [k for k in range(c_count) if open0[k]]
    pam = {0: (p.pam_mean_schizophrenia, p.pam_sd_schizophrenia),
           1: (p.pam_mean_bipolar, p.pam_sd_bipolar), 2: (p.pam_mean_depression, p.pam_sd_depression)}  # fmt: skip
    w, misinfo_on = params.wellbeing, params.mechanisms.misinformation
    # 5. Homes uniform over the K generic communities, people numbered in order of home (the
    # draws sorted).
    homes = sorted(min(int(uniform_py(key, i, D_HOME) * c_count), c_count - 1) for i in range(n))
    s, x = st.static, st.cur
    for i in range(n):
        u = lambda d, i=i: uniform_py(key, i, d)  # noqa: E731
        # 1. Diagnosis from the mix.
        ud = u(D_DIAGNOSIS)
        diag = (
            0
            if ud < p.share_schizophrenia
            else 1
            if ud < p.share_schizophrenia + p.share_bipolar
            else 2
        )
        s["diagnosis"][i] = diag
        # 2. Activation: clip(mean + sd·z) by diagnosis.
        mean, sd = pam[diag]
        a0 = min(max(mean + sd * _normal_quantile(u(D_PAM)), 0.0), 100.0)
        s["activation0"][i] = x["activation"][i] = a0
        # 3. Self-stigma ~ Beta(μ_s by diagnosis, κ_s).
        mu_s = p.stigma_mean_schizophrenia if diag == 0 else p.stigma_mean_other
        s["stigma0"][i] = x["stigma"][i] = _beta_quantile(u(D_STIGMA), mu_s, p.stigma_concentration)
        # 4. The copula: offline connectedness, isolation, vulnerability, use.
        u_off = u(D_BELONGING)
        z_iso = -_normal_quantile(u_off)
        s["belonging_offline"][i] = _beta_quantile(u_off, p.belonging_offline_mean, 6.0)
        z_v = _correlated(z_iso, u(D_VULNERABLE), p.vulnerable_isolation)
        s["vulnerable"][i] = z_v > float(special.ndtri(1.0 - p.vulnerable_share))
        z_use = _correlated(z_iso, u(D_USE), p.isolation_use)
        s["use"][i] = (
            _beta_quantile(float(special.ndtr(z_use)), p.social_media_use_mean,
                           p.social_media_use_concentration)
            if p.social_media_use_concentration > 0 else p.social_media_use_mean
        )  # fmt: skip
        # 13. Trust ~ Beta(τ̄, 6) (draw 19).
        s["trust0"][i] = x["trust"][i] = _beta_quantile(u(D_TRUST), p.trust_mean, 6.0)
        # 5. Home community.
        s["home"][i] = home = homes[i]
        # 6. Online at day 0 (heavier users more often), in the home community with the home
        # bias, else in a uniformly chosen one.
        online = _correlated(-z_use, u(D_ONLINE), p.online_selection) < float(
            special.ndtri(p.initial_online_share)
        )
        other = min(int(u(D_OTHER) * c_count), c_count - 1)
        chosen = home if u(D_HOME_CHOICE) < params.entry.home_bias else other
        if not open0[chosen]:
            # (code) A community not open on day 0 has no members then: the person is in an
            # open one instead, chosen uniformly with the draw of ``other``, or offline if none.
            if open_ids:
                chosen = open_ids[min(int(u(D_OTHER) * len(open_ids)), len(open_ids) - 1)]
            else:
                online = False
        x["community"][i] = chosen if online else -1
        x["ever_online"][i] = online
        # 7. Role: superuser, contributor, lurker from one draw.
        ur = u(D_ROLE)
        x["role"][i] = (
            2
            if ur < p.share_superuser
            else 1
            if ur < p.share_superuser + p.share_contributor
            else 0
        )
        # 8. Beliefs from one draw: misled with m0, of the others a share corrected.
        um, m0 = u(D_MISINFO), p.initial_misinformed_share
        misled = um < m0 * misinfo_on
        corrected = not misled and um < (m0 + (1.0 - m0) * p.initial_corrected_share) * misinfo_on
        x["misinfo"][i] = 1 if misled else 2 if corrected else 0
        # 9. Uncertainty ~ Beta(mean, 6).
        s["uncertainty0"][i] = x["uncertainty"][i] = _beta_quantile(
            u(D_UNCERTAINTY), p.uncertainty_mean, 6.0
        )
        # 10. Care status: in care, seeking, disengaged, else not seeking.
        uc, c1 = u(D_CARE), p.share_in_care
        c2, c3 = c1 + p.share_seeking, c1 + p.share_seeking + p.share_disengaged
        x["care"][i] = 2 if uc < c1 else 1 if uc < c2 else 3 if uc < c3 else 0
        # 11. Employed or in education.
        x["employed"][i] = u(D_EMPLOYED) < p.employed_share
        # 12. Empowerment, belonging (= offline connectedness), wellbeing, recovery.
        s["empowerment0"][i] = x["empowerment"][i] = _beta_quantile(u(D_EMPOWER), 0.45, 6.0)
        x["belonging"][i] = s["belonging_offline"][i]
        wm0 = _beta_quantile(u(D_WB_MENTAL), 0.5, 8.0)
        wp0 = _beta_quantile(u(D_WB_PHYSICAL), 0.5, 8.0)
        r0 = _beta_quantile(u(D_RECOVERY), 0.4, 6.0)
        s["wellbeing_mental0"][i] = x["wellbeing_mental"][i] = wm0
        x["wellbeing_physical"][i] = wp0
        x["recovery"][i] = r0
        # 14. Intercepts: every target equals its day-0 value.
        in_care = 1.0 if x["care"][i] == 2 else 0.0
        s["wm_base"][i] = (
            wm0 - w.belonging_effect * x["belonging"][i] - w.care_effect_mental * in_care
        )
        s["wp_base"][i] = wp0 - w.care_effect_physical * in_care
        s["r_base"][i] = r0 - params.offline.recovery_care * in_care
    for k in range(st.n_communities):
        st.comm["open"][k] = st.comm["opens"][k] <= 0 < st.comm["closes"][k]
    return st
