"""Typed parameters of one peerwell run.

Every field carries, in its metadata, its unit, its allowed range, a one-line meaning, its source
(an empirical anchor of the model brief, or "assumption"), and the box of the conceptual model of
Naslund et al. (2016) it belongs to. The same metadata drives validation, the ODD parameter tables,
the sensitivity-analysis ranges and the dashboard controls, so there is one list, not four.

Time unit: one step is one day. Rates are daily probabilities or daily relaxation fractions.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ConfigError

DIAGNOSES = ("schizophrenia", "bipolar", "depression")
ROLES = ("lurker", "contributor", "superuser")
CARE_STATES = ("not_seeking", "seeking", "in_care", "disengaged")
PLATFORMS = ("facebook_group", "youtube", "twitter", "forum", "moderated_platform")
NETWORK_KINDS = ("sbm", "barabasi_albert", "watts_strogatz", "complete", "edgelist", "graphml")
MECHANISMS = (
    "entry",
    "peer_support",
    "stigma_pathway",
    "activation_pathway",
    "intervention_pathway",
    "misinformation",
    "correction",
    "hostility",
    "uncertainty",
    "offline_translation",
    "offline_information",
    "trust",
    "privacy",
    "vulnerability",
    "displacement",
    "role_change",
    "support_by_content",
)


def spec(
    default: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    unit: str = "",
    help: str,
    source: str = "assumption",
    box: str = "",
    sweep: tuple[float, float] | None = None,
):
    """A dataclass field with the metadata peerwell uses to validate and document it.

    ``sweep`` is the default range for sensitivity analysis when it differs from ``[lo, hi]``.
    """
    meta = {"lo": lo, "hi": hi, "unit": unit, "help": help, "source": source, "box": box}
    if sweep is not None:
        meta["sweep"] = sweep
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


PAM_SRC = "PAM-MH validation study (Forma 2021): baseline PAM-MH mean ± SD of US adults with schizophrenia, bipolar disorder and major depression (n = 43/59/34), taken as the day-0 activation of the same diagnoses"
STIGMA_SRC = "Brohan 2010 (41.7% moderate/high self-stigma on the ISMI among 1,229 people with schizophrenia in 14 European countries); Dubreucq 2021 (31.3% on average across 25,458 people with SMI, a systematic review)"
MIERLO = "van Mierlo 2014: in four digital health social networks (63,990 members) the 90% lurkers, 9% contributors and 1% superusers produced 1.3/24.0/74.7% of content (the 1% rule), taken to hold in online peer communities of people with SMI"


@dataclass
class PopulationParams:
    """Who the people with serious mental illness (SMI) are at the start."""

    size: int = spec(3000, 1, 5_000_000, unit="people", help="number of people with SMI", box="people")
    share_schizophrenia: float = spec(0.30, 0, 1, unit="share", help="diagnosis mix: schizophrenia spectrum", box="people")
    share_bipolar: float = spec(0.30, 0, 1, unit="share", help="diagnosis mix: bipolar disorder", box="people")
    share_depression: float = spec(0.40, 0, 1, unit="share", help="diagnosis mix: major depression", box="people")
    pam_mean_schizophrenia: float = spec(57.4, 0, 100, unit="PAM points", help="baseline activation mean, schizophrenia", source=PAM_SRC, box="activation")
    pam_sd_schizophrenia: float = spec(10.4, 0, 50, unit="PAM points", help="baseline activation SD, schizophrenia", source=PAM_SRC, box="activation")
    pam_mean_bipolar: float = spec(66.6, 0, 100, unit="PAM points", help="baseline activation mean, bipolar", source=PAM_SRC, box="activation")
    pam_sd_bipolar: float = spec(17.5, 0, 50, unit="PAM points", help="baseline activation SD, bipolar", source=PAM_SRC, box="activation")
    pam_mean_depression: float = spec(55.4, 0, 100, unit="PAM points", help="baseline activation mean, major depression", source=PAM_SRC, box="activation")
    pam_sd_depression: float = spec(14.6, 0, 50, unit="PAM points", help="baseline activation SD, major depression", source=PAM_SRC, box="activation")
    stigma_mean_schizophrenia: float = spec(0.456, 0.01, 0.99, unit="0-1 (ISMI 1-4 rescaled)", help="baseline self-stigma mean, schizophrenia", source=STIGMA_SRC + "; calibrated (peerwell calibrate) so that the share with moderate/high self-stigma in schizophrenia stays near 41.7% through the baseline year", box="stigma")
    stigma_mean_other: float = spec(0.447, 0.01, 0.99, unit="0-1 (ISMI 1-4 rescaled)", help="baseline self-stigma mean, bipolar and depression", source=STIGMA_SRC + "; set so that the population share with moderate/high self-stigma stays between the two through the baseline year", box="stigma")
    stigma_concentration: float = spec(7.0, 0.5, 200, unit="Beta a+b", help="how tightly baseline self-stigma clusters round its mean", box="stigma")
    social_media_use_mean: float = spec(0.5, 0.01, 0.99, unit="0-1", help="mean propensity to use social media", source="assumption (a scale, not a measurement: use is a 0-1 propensity that multiplies joining and reading, and 0.5 puts the mean halfway; Birnbaum 2015 measured 2.6 ± 2.5 h/day on social media in young people with psychotic or mood disorders, which the model does not read as hours)", box="entry")
    social_media_use_concentration: float = spec(4.0, 0, 1e6, unit="Beta a+b", help="spread of social-media use between people: Beta concentration; 0 = everyone at the mean (well-mixed, for the classic-model limits)", source="assumption (informed by Birnbaum 2015, which measured 2.6 ± 2.5 h/day of social-media use, a coefficient of variation of about 0.96, in 80 young people with psychotic or mood disorders; Beta(2, 2), the default mean 0.5 and concentration 4, gives a CV of 0.45, half as spread; a CV of 0.96 at mean 0.5 would need a concentration of about 0.08, nearly all-or-none use; a known gap, ODD §9.3)", box="entry")
    initial_online_share: float = spec(0.70, 0, 1, unit="share", help="share already in an online peer community at day 0", source="assumption (informed by surveys of any social-media use, not of peer-community membership: Naslund 2016, 71% of 70 people with SMI; Brunette 2019, 67.9% of 403 in treatment for SMI; Aschbrenner 2018, 72% of 195 at peer support agencies; so 0.70 is an upper bound on the share in an online peer community)", box="entry")
    share_superuser: float = spec(0.01, 0, 1, unit="share", help="share of superusers (post most days)", source=MIERLO, box="exchange")
    share_contributor: float = spec(0.09, 0, 1, unit="share", help="share of contributors (post now and then); the rest lurk", source=MIERLO, box="exchange")
    post_rate_lurker: float = spec(0.00015, 0, 1, unit="1/day", help="daily posting probability of a lurker", source=MIERLO, box="exchange")
    post_rate_contributor: float = spec(0.03, 0, 1, unit="1/day", help="daily posting probability of a contributor", source=MIERLO, box="exchange")
    post_rate_superuser: float = spec(0.9, 0, 1, unit="1/day", help="daily posting probability of a superuser", source=MIERLO, box="exchange")
    initial_misinformed_share: float = spec(0.10, 0, 1, unit="share", help="share holding a misleading health belief at day 0", source="assumption (informed by Knoepke 2018: 24.4% of 82 pieces of advice on a message board for implanted-defibrillator patients were inappropriate for most patients; that is a share of advice in a cardiac community, not of people with SMI holding a misleading belief, so at most a loose upper bound)", box="misinformation")
    initial_corrected_share: float = spec(0.333, 0, 1, unit="share of the not misled", help="share of the people not misled at day 0 who have been corrected of a misleading claim (and are not yet open to a new one); the rest are unaware", source="assumption (derived from other defaults, not data: the offline stationary share of the belief chain, from the per-item effects of Schmid & Bauer 2025 and Walter 2021 and the assumed offline exposure, so beliefs start at the balance of what people meet outside peer communities; ODD §7.6)", box="misinformation")
    uncertainty_mean: float = spec(0.35, 0.01, 0.99, unit="0-1", help="baseline uncertainty about one's own condition (Beta, concentration 6)", box="uncertainty")
    share_in_care: float = spec(0.50, 0, 1, unit="share", help="share in mental-health care at day 0 (near the care equilibrium of the defaults)", box="care")
    share_seeking: float = spec(0.04, 0, 1, unit="share", help="share seeking care at day 0", box="care")
    share_disengaged: float = spec(0.16, 0, 1, unit="share", help="share disengaged from care at day 0", box="care")
    employed_share: float = spec(0.21, 0, 1, unit="share", help="share employed or in education at day 0", box="offline")
    trust_mean: float = spec(0.5, 0.01, 0.99, unit="0-1", help="baseline trust in online health information (Beta, concentration 6); online content is weighed by trust relative to this mean", source="assumption (HINTS: physicians are the most trusted source, Hesse 2005; the internet less)", box="uncertainty")
    belonging_offline_mean: float = spec(0.3, 0.01, 0.99, unit="0-1", help="mean offline connectedness (family, friends, services) that everyone has (Beta, concentration 6); belonging returns to it", box="peer_support")
    vulnerable_share: float = spec(0.15, 0, 1, unit="share", help="share vulnerable at the start (in or just after an acute phase)", box="people")
    vulnerable_isolation: float = spec(0.3, 0, 0.99, unit="correlation", help="Gaussian-copula correlation between being vulnerable and low offline connectedness", box="people")
    isolation_use: float = spec(0.2, 0, 0.99, unit="correlation", help="Gaussian-copula correlation between low offline connectedness and social-media use (isolated people use more)", source="Primack 2017 (1,787 US adults aged 19-32, not people with SMI: the highest vs lowest quartile of social-media use had twice the odds of perceived social isolation, AOR 2.0; the default gives about 2.3, ODD §5.1; the direction of cause is unknown)", box="entry")
    online_selection: float = spec(0.5, 0, 0.99, unit="correlation", help="Gaussian-copula correlation between social-media use and being in a peer community at day 0 (0: who is online is independent of use)", box="entry")


@dataclass
class CommunityParams:
    """The online peer communities and the actors in them besides people with SMI."""

    count: int = spec(6, 1, 8191, unit="communities", help="number of online peer communities", box="entry")
    size: int = spec(5600, 1, 100_000_000, unit="people", help="real members of each community (the simulated members are a sample of them): the feed is what this many people write", source="Bizzotto 2022 (a protocol for studying misinformation in two Italian mental-health Facebook groups reports 5,598 members in the peer-led one: the size of a real peer community, taken as typical of a Facebook group)", box="entry")
    platforms: list[str] = spec(["facebook_group", "youtube", "twitter", "forum"], help="platform kinds, assigned to communities in turn", box="entry")
    moderation: float = spec(0.1, 0, 1, unit="0-1", help="moderator presence: removes hostile and misleading content, corrects", source="assumption (1 stands for a clinician- and peer-moderated space like HORYZONS, Alvarez-Jimenez 2021; the default 0.1, light volunteer moderation of an open community, is not measured)", box="misinformation")
    hostility: float = spec(0.04, 0, 1, unit="rate per post", help="rate of hostile or derogatory comments a post draws (chance 1 - e^-rate), before moderation and the platform multiplier", source="assumption (informed by Alvarez-Mon 2019, which measured the share of tweets about psychosis that were pejorative, 36.2% vs 11.3% of tweets about breast cancer, diabetes, Alzheimer's disease and HIV: public content about an illness, not the rate of hostile replies a post in a peer community draws)", box="hostility")
    misinformation_prevalence: float = spec(0.04, 0, 1, unit="share", help="share of each community feed that is misleading content from outside sources (before moderation)", source="assumption (between two measures, neither in a mental-health peer community: Esquivel 2006, 10 of 4,600 posts false on a breast-cancer mailing list; Knoepke 2018, 24.4% of 82 pieces of advice inappropriate on a defibrillator-patient message board)", box="misinformation")
    peer_supporters: int = spec(0, 0, 100_000, unit="per community", help="trained peer supporters in each community (post support and accurate information daily)", box="peer_support")
    intervention_communities: int = spec(0, 0, 8191, unit="communities", help="communities that host an online intervention for mental and physical wellbeing", box="intervention")
    anti_stigma_content: float = spec(0.0, 0, 1, unit="share", help="share of the feed that is contact-based anti-stigma content", box="stigma")


@dataclass
class CommunitySettings:
    """One named community's own settings (``community.<name>.<property>``).

    A property left unset (``null``) is the value of ``communities.<property>``, the same for every
    community that does not set its own. A name that is not one of the generic communities
    (``community_names``) adds a community, which must then set at least its platform.
    """

    platform: str | None = spec(None, help="platform kind, one of: " + ", ".join(PLATFORMS) + "; null: a generic community's platform from communities.platforms in turn (an added community must set it)", box="entry")
    size: int | None = spec(None, 1, 100_000_000, unit="people", help="this community's real members (null: communities.size)", source="Bizzotto 2022 (Facebook groups of 5,598 and 12,058 members); Alvarez-Jimenez 2021 (HORYZONS arm, n=86): sizes of real communities of each kind", box="entry")
    moderation: float | None = spec(None, 0, 1, unit="0-1", help="this community's moderator presence (null: communities.moderation); at least its platform's moderation floor", source="assumption (1 stands for a clinician- and peer-moderated space like HORYZONS, Alvarez-Jimenez 2021)", box="misinformation")
    hostility: float | None = spec(None, 0, 1, unit="rate per post", help="this community's rate of hostile comments per post before moderation and the platform multiplier (null: communities.hostility)", source="assumption (informed by Alvarez-Mon 2019: pejorative tweets about psychosis, not hostile replies in a community)", box="hostility")
    misinformation_prevalence: float | None = spec(None, 0, 1, unit="share", help="share of this community's feed that is misleading content from outside (null: communities.misinformation_prevalence)", source="assumption (between Esquivel 2006, 10 of 4,600 posts false, and Knoepke 2018, 24.4% of advice inappropriate; neither a mental-health community)", box="misinformation")
    peer_supporters: int | None = spec(None, 0, 100_000, unit="people", help="trained peer supporters in this community (null: communities.peer_supporters)", box="peer_support")
    intervention: bool | None = spec(None, help="this community hosts an online intervention (null: the first communities.intervention_communities generic communities do)", box="intervention")
    anti_stigma_content: float | None = spec(None, 0, 1, unit="share", help="share of this community's feed that is contact-based anti-stigma content (null: communities.anti_stigma_content)", box="stigma")
    opens: int = spec(0, 0, 100_000, unit="day", help="day the community opens: nobody joins it before", box="entry")
    closes: int | None = spec(None, 0, 100_000, unit="day", help="day the community closes: its members leave that day and nobody joins it again (null: never)", box="entry")


# The kind of each per-community setting (its default is null, so the default cannot say).
COMMUNITY_SETTING_KINDS: dict[str, Any] = {
    "platform": "",
    "size": 0,
    "moderation": 0.0,
    "hostility": 0.0,
    "misinformation_prevalence": 0.0,
    "peer_supporters": 0,
    "intervention": False,
    "anti_stigma_content": 0.0,
    "opens": 0,
    "closes": 0,
}
COMMUNITY_SETTINGS = tuple(f.name for f in dataclasses.fields(CommunitySettings))
# Per-community settings a running model takes; the others lay the community out on day 0. A new
# opening or closing day counts from the next step (a day already past: from the next step on),
# which is how a class sees a community open when the teacher chooses.
COMMUNITY_MID_RUN = (
    "moderation",
    "hostility",
    "misinformation_prevalence",
    "peer_supporters",
    "anti_stigma_content",
    "opens",
    "closes",
    "size",
)
# At most this many communities in all: the exchange's tag packs a community id into 13 bits.
MAX_COMMUNITIES = 8191


@dataclass
class NetworkParams:
    """The base reply/follow network between people; ties are active while both share a community."""

    kind: str = spec("sbm", help="one of: " + ", ".join(NETWORK_KINDS), box="exchange")
    mean_degree: float = spec(10.0, 0, 10_000, unit="ties/person", help="mean number of ties per person (generated networks)", box="exchange")
    within_share: float = spec(0.8, 0, 1, unit="share", help="sbm: share of a person's ties inside their home community", box="exchange")
    rewire: float = spec(0.1, 0, 1, unit="probability", help="watts_strogatz: rewiring probability", box="exchange")
    path: str | None = spec(None, help="edgelist/graphml: path of the user's network file (nodes numbered from 0)", box="exchange")


@dataclass
class MechanismSwitches:
    """One switch per box and arrow of the conceptual model: turn one off to see what it contributed."""

    entry: bool = spec(True, help="the critical point: people join online peer communities (leaving goes on when it is off)", box="entry")
    peer_support: bool = spec(True, help="naturally occurring peer-to-peer support builds belonging", box="peer_support")
    stigma_pathway: bool = spec(True, help="challenging stigma: empowerment and hope lower self-stigma", box="stigma")
    activation_pathway: bool = spec(True, help="learning from peers raises activation, which promotes care-seeking", box="activation")
    intervention_pathway: bool = spec(True, help="online interventions for mental and physical wellbeing", box="intervention")
    misinformation: bool = spec(True, help="risk: exposure to misleading health information", box="misinformation")
    correction: bool = spec(True, help="peers, moderators and clinicians correct misinformation", box="misinformation")
    hostility: bool = spec(True, help="risk: hostile or derogatory comments", box="hostility")
    uncertainty: bool = spec(True, help="risk: feeling more uncertain about one's own health condition", box="uncertainty")
    offline_translation: bool = spec(True, help="gains made online carry into offline recovery and employment", box="offline")
    offline_information: bool = spec(True, help="everyone meets health information and misinformation outside peer communities too (search, television, family; care corrects on its own route)", box="misinformation")
    support_by_content: bool = spec(True, help="only supportive content counts as support: misleading and hostile posts read support nobody (off: every post read supports, whatever it says)", box="peer_support")
    role_change: bool = spec(True, help="lurkers become contributors as belonging grows; contributors and superusers can burn out", box="exchange")
    trust: bool = spec(True, help="trust in online health information moves with what people meet and weighs how much they take from posts (uncertainty about the reliability of information)", box="uncertainty")
    privacy: bool = spec(True, help="risk: people disclose their diagnosis online, and a disclosure can harm them (identified, judged, contacted; self-stigma, work, leaving)", box="privacy")
    vulnerability: bool = spec(True, help="vulnerable people (in an acute phase) are harmed more by hostile comments", box="hostility")
    displacement: bool = spec(True, help="heavy use while online displaces offline contact (an assumption)", box="peer_support")


@dataclass
class SubmodelSwitches:
    """Which submodels (ODD §7) run. One that does not run keeps its state variables at their
    day-0 values and its daily flows at zero, and costs nothing; the others run as usual.

    Unlike a mechanism switch, which removes one arrow of the conceptual model while its state
    variables go on changing, this leaves a whole submodel out, as a Starsim simulation leaves out
    a module it does not include. For studies of one process (the classic-model validations run
    only what a contagion reads) and for instructors showing one box at a time.
    """

    membership: bool = spec(True, help="entry and leaving (§7.1); off: everyone keeps their day-0 community", box="entry")
    posting: bool = spec(True, help="posting (§7.2); off: nobody posts", box="exchange")
    feed: bool = spec(True, help="community feeds (§7.3); off: the feeds are empty, so only tied co-members are met", box="exchange")
    exchange: bool = spec(True, help="exchange over ties and feeds (§7.4); off: nobody meets anything", box="exchange")
    privacy: bool = spec(True, help="disclosure of one's diagnosis online and its harms (§7.12)", box="privacy")
    social: bool = spec(True, help="belonging, empowerment, self-stigma, hostility memory (§7.5)", box="stigma")
    misinformation: bool = spec(True, help="misleading beliefs and their correction (§7.6)", box="misinformation")
    activation: bool = spec(True, help="uncertainty and consumer activation (§7.7)", box="activation")
    care: bool = spec(True, help="care status (§7.8)", box="care")
    intervention: bool = spec(True, help="enrolment in online interventions (§7.9)", box="intervention")
    wellbeing: bool = spec(True, help="mental and physical wellbeing (§7.10)", box="wellbeing")
    offline: bool = spec(True, help="recovery, employment and acute care (§7.11)", box="offline")


# The submodels of ODD §7, in the order a day runs them (simulation/loop.py).
SUBMODELS = tuple(f.name for f in dataclasses.fields(SubmodelSwitches))


@dataclass
class EntryParams:
    """The critical point: joining an online community of peers, and leaving it."""

    join_rate: float = spec(0.02, 0, 1, unit="1/day", help="daily chance that an offline person at full social-media use joins a community", box="entry")
    leave_rate: float = spec(0.0049, 0, 1, unit="1/day", help="baseline daily chance an online person leaves their community", source="HORYZONS (Alvarez-Jimenez 2021): 55.5% of 86 young people after a first episode of psychosis still logged on at 6 months, 47.0% at 9, in a clinician-moderated trial platform; fitted to those logins (peerwell calibrate) and applied to every community and platform, although open, unmoderated platforms may keep people less or more (ODD §9.3)", box="entry")
    leave_after_hostility: float = spec(4.0, 0, 100, unit="multiplier", help="how much recent hostility raises the chance of leaving", box="hostility")
    belonging_retention: float = spec(0.7, 0, 1, unit="0-1", help="how much full belonging lowers the chance of leaving", box="peer_support")
    home_bias: float = spec(0.7, 0, 1, unit="probability", help="chance a joiner picks their home community rather than any", box="entry")
    attract_moderation: float = spec(1.0, 0, 20, unit="log-odds per unit", help="how much a community's moderation draws people who choose among communities: weight e^(attract_moderation * moderation - attract_hostility * hostility)", box="entry")
    attract_hostility: float = spec(10.0, 0, 200, unit="log-odds per unit", help="how much a community's hostility (per post, after the platform multiplier) keeps choosers away", box="hostility")
    switch_share: float = spec(0.069, 0, 1, unit="share", help="share of the people leaving a community (or whose community closes) who move to another open one the same day rather than going offline", box="entry")
    offline_displacement: float = spec(0.2, 0, 1, unit="share", help="share of offline connectedness displaced while online at full social-media use (an assumption, flagged: evidence is mixed)", box="peer_support")
    hostility_memory: float = spec(0.9, 0, 0.999, unit="1/day", help="daily persistence of the memory of hostile comments (0.9: about ten days)", box="hostility")


@dataclass
class ExchangeParams:
    """What flows over memberships and ties each day: support, health information, hostility."""

    read_rate: float = spec(6.0, 0, 1000, unit="posts/day", help="posts read per day at full social-media use", source="assumption (informed by Birnbaum 2015, which measured 2.6 ± 2.5 h/day on social media in young people with psychotic or mood disorders: heavy daily use; how many peer-community posts that is was not measured)", box="exchange")
    support_per_post: float = spec(0.08, 0, 10, unit="1/post", help="support signal carried by one peer post read or reply received", source="Naslund 2014 (themes of 3,044 YouTube comments by people with SMI: less isolation, more hope, reciprocity; the direction of the effect of reading peers; the size per post is assumed)", box="peer_support")
    health_post_share: float = spec(0.3, 0, 1, unit="share", help="share of posts that carry health information", source="assumption (informed by Birnbaum 2015, where 30% of young people with psychotic or mood disorders had discussed their symptoms online: a share of people, used here as a share of posts, which was not measured)", box="exchange")
    misinfo_adoption: float = spec(0.05, 0, 1, unit="1/post", help="chance a misleading post read is believed", box="misinformation")
    correction_moderator: float = spec(0.5, 0, 10, unit="1/day", help="correction pressure of full moderation on a misinformed member", box="misinformation")
    correction_peer: float = spec(0.02, 0, 1, unit="1/post", help="chance an accurate post read corrects a misleading belief", box="misinformation")
    correction_reply: float = spec(4.85, 0, 50, unit="replies/post", help="correcting replies a misleading post draws when all of its community's feed is accurate (scaled by the feed's accurate share); each answered author is corrected at this hazard the same day", source="Esquivel 2006: 7 of 10 false posts on a breast-cancer mailing list (4,600 posts) were corrected by other participants within hours; fitted (peerwell calibrate) so that 70% of misleading posts draw a same-day correction, taking a peer cancer list as a peer community", box="misinformation")
    correction_clinician: float = spec(0.01, 0, 1, unit="1/day", help="daily chance that care corrects a misleading belief", box="misinformation")
    stifling: float = spec(0.01, 0, 10, unit="1/post", help="chance per post met from someone who already knows the claim (misled or corrected) that a misled person stops spreading it (Daley-Kendall/Maki-Thompson stifling)", box="misinformation")
    misinfo_renewal: float = spec(0.01, 0, 1, unit="1/day", help="daily chance a corrected person becomes open to a new misleading claim", box="misinformation")
    renewal_same_day: bool = spec(False, help="a corrected person who renews can be misled again the same day (with misinfo_renewal=1 the corrected state then lasts no time: pure SIS, for the classic limit); off, they sit out the renewal day", box="misinformation")
    hostile_per_read: float = spec(0.05, 0, 10, unit="1/post", help="exposure to hostile content per post read, relative to a post of one's own", box="hostility")
    psychosis_hostility: float = spec(3.2, 1, 10, unit="multiplier", help="hostility aimed at people with psychosis relative to other diagnoses", source="assumption (informed by Alvarez-Mon 2019, which found 36.2% of tweets about psychosis pejorative vs 11.3% of tweets about breast cancer, diabetes, Alzheimer's disease and HIV, a ratio of 3.2: tweets about an illness, not hostile replies to people with psychosis, and not compared with bipolar disorder or depression)", box="hostility")
    vulnerable_hostility: float = spec(2.0, 1, 20, unit="multiplier", help="how much more a vulnerable person loses to a hostile comment (belonging, empowerment, self-stigma, mental wellbeing)", box="hostility")
    moderation_efficacy: float = spec(0.85, 0, 1, unit="0-1", help="share of hostile and misleading content full moderation removes", box="misinformation")
    supporter_post_rate: float = spec(3.0, 0, 100, unit="posts/day", help="posts per day of one trained peer supporter", box="peer_support")


@dataclass
class StigmaParams:
    """Challenging stigma: belonging, empowerment and hope against self-stigma, and what hostility does."""

    belonging_gain: float = spec(0.05, 0, 1, unit="1/day", help="rate at which support builds belonging", box="peer_support")
    belonging_decay: float = spec(0.01, 0, 1, unit="1/day", help="daily decay of belonging", box="peer_support")
    hostility_belonging_loss: float = spec(0.15, 0, 1, unit="1/event", help="share of belonging lost to one hostile comment", box="hostility")
    empowerment_gain: float = spec(0.03, 0, 1, unit="1/day", help="rate at which support and shared stories build empowerment and hope", box="stigma")
    empowerment_relaxation: float = spec(0.01, 0, 1, unit="1/day", help="daily return of empowerment to its baseline", box="stigma")
    hostility_empowerment_loss: float = spec(0.1, 0, 1, unit="1/event", help="share of empowerment lost to one hostile comment", box="hostility")
    stigma_reduction: float = spec(0.012, 0, 1, unit="1/day", help="rate at which empowerment and support lower self-stigma", source="Lloyd-Evans 2014 (meta-analysis of 18 RCTs of peer support for people with SMI: some benefit on hope, recovery and empowerment; the direction; the rate is assumed)", box="stigma")
    hostility_stigma_gain: float = spec(0.08, 0, 1, unit="1/event", help="share of the gap to full self-stigma closed by one hostile comment", source="assumption (no study measured self-stigma after hostile comments; Alvarez-Mon 2019 measured public stigmatising content about psychosis on Twitter, not its effect on anyone)", box="hostility")
    stigma_relaxation: float = spec(0.01, 0, 1, unit="1/day", help="daily return of self-stigma to its baseline", box="stigma")
    peer_norm_weight: float = spec(0.005, 0, 1, unit="1/day", help="daily pull of self-stigma toward the mean of tied co-members (peer norms; DeGroot averaging)", box="stigma")
    campaign_effect: float = spec(0.02, 0, 1, unit="1/day", help="rate at which anti-stigma content read lowers self-stigma", box="stigma")


@dataclass
class ActivationParams:
    """Consumer activation (PAM) and uncertainty about one's own condition."""

    learning_gain: float = spec(0.000376, 0, 1, unit="1/day", help="rate at which accurate information from peers raises activation toward 100", source="calibrated (peerwell calibrate) so that the PAM-MH means by diagnosis (Forma 2021, the PAM-MH validation study: US adults with SMI) and the level shares hold after a year online", box="activation")
    empowerment_boost: float = spec(0.5, 0, 10, unit="multiplier", help="how much empowerment adds to learning from peers", box="activation")
    relaxation: float = spec(0.005, 0, 1, unit="1/day", help="daily return of activation to its baseline", box="activation")
    misinfo_drag: float = spec(0.002, 0, 1, unit="1/day", help="daily loss of activation while holding a misleading belief", box="misinformation")
    uncertainty_drag: float = spec(0.003, 0, 1, unit="1/day", help="daily loss of activation per unit of uncertainty above baseline", box="uncertainty")
    uncertainty_gain: float = spec(0.02, 0, 1, unit="1/day", help="rate at which misleading and hostile content raise uncertainty", box="uncertainty")
    uncertainty_relief: float = spec(0.02, 0, 1, unit="1/day", help="rate at which accurate information from peers lowers uncertainty", box="uncertainty")
    uncertainty_relaxation: float = spec(0.01, 0, 1, unit="1/day", help="daily return of uncertainty to its baseline", box="uncertainty")


@dataclass
class CareParams:
    """Care status: not seeking → seeking → in care → disengaged."""

    seek_rate: float = spec(0.004, 0, 1, unit="1/day", help="daily chance of starting to seek care at activation 55", source="assumption (the level is not measured; Hibbard 2007 informs only its rise with activation, care.seek_activation_slope)", box="care")
    seek_activation_slope: float = spec(0.04, 0, 1, unit="1/PAM point", help="log-linear slope: each PAM point above 55 multiplies the daily chance of seeking care by e^slope", source="Hibbard 2007 (US adults in the 2007 Health Tracking Household Survey: unmet need for care fell steeply with activation level; the direction, for people with SMI; the slope is assumed)", box="activation")
    seek_stigma_barrier: float = spec(0.6, 0, 1, unit="0-1", help="how much full self-stigma holds back care-seeking", box="stigma")
    seek_misinfo_barrier: float = spec(0.5, 0, 1, unit="0-1", help="how much a misleading belief holds back care-seeking", box="misinformation")
    peer_encouragement: float = spec(1.0, 0, 100, unit="multiplier", help="extra care-seeking from learning from peers today", source="Naslund 2014 (YouTube comments by people with SMI discussed medication and care-seeking; the direction; the size is assumed)", box="activation")
    entry_rate: float = spec(0.05, 0, 1, unit="1/day", help="daily chance a person seeking care enters care", box="care")
    disengage_rate: float = spec(0.004, 0, 1, unit="1/day", help="baseline daily chance of disengaging from care", box="care")
    disengage_misinfo: float = spec(1.5, 0, 100, unit="multiplier", help="extra disengagement while holding a misleading belief", box="misinformation")
    disengage_activation: float = spec(0.6, 0, 1, unit="0-1", help="how much full activation protects against disengaging", box="activation")
    reseek_factor: float = spec(2.0, 0, 10, unit="multiplier", help="care-seeking of disengaged people relative to never-seekers (they know the way back)", box="care")
    completion_rate: float = spec(0.006, 0, 1, unit="1/day", help="daily chance of completing care (leaving it, no longer seeking) at full recovery", box="care")


@dataclass
class InterventionParams:
    """Online interventions delivered through social media (e.g. a lifestyle programme with peer support)."""

    enrol_rate: float = spec(0.02, 0, 1, unit="1/day", help="daily chance an online member at activation 100 enrols in an intervention", box="intervention")
    dropout_rate: float = spec(0.0033, 0, 1, unit="1/day", help="daily chance an enrolled person drops out", source="HORYZONS (Alvarez-Jimenez 2021): 55.5% of 86 still logging on to the moderated online social therapy at 6 months; -ln 0.555 / 182.6 days, applied to any online intervention", box="intervention")
    physical_effect: float = spec(0.15, 0, 1, unit="wellbeing", help="gain in physical-wellbeing target while enrolled", box="intervention")
    mental_effect: float = spec(0.05, 0, 1, unit="wellbeing", help="gain in mental-wellbeing target while enrolled", box="intervention")
    engagement_effect: float = spec(0.5, 0, 1, unit="0-1", help="how much enrolment lowers disengagement from care", box="intervention")


@dataclass
class WellbeingParams:
    """Mental and physical wellbeing, each relaxing toward a target the other states set."""

    adjust_rate: float = spec(0.03, 0, 1, unit="1/day", help="daily approach of wellbeing to its target", box="wellbeing")
    belonging_effect: float = spec(0.10, 0, 1, unit="wellbeing", help="mental wellbeing gained at full belonging", source="Lloyd-Evans 2014 (18 RCTs of peer support in SMI: little effect on symptoms; \"small\"; the size is assumed)", box="wellbeing")
    empowerment_effect: float = spec(0.15, 0, 1, unit="wellbeing", help="mental wellbeing per unit of empowerment above baseline", box="wellbeing")
    stigma_effect: float = spec(0.20, 0, 1, unit="wellbeing", help="mental wellbeing lost per unit of self-stigma above baseline", box="wellbeing")
    uncertainty_effect: float = spec(0.10, 0, 1, unit="wellbeing", help="mental wellbeing lost per unit of uncertainty above baseline", box="wellbeing")
    care_effect_mental: float = spec(0.08, 0, 1, unit="wellbeing", help="mental wellbeing gained while in care", box="wellbeing")
    care_effect_physical: float = spec(0.03, 0, 1, unit="wellbeing", help="physical wellbeing gained while in care", box="wellbeing")
    hostility_shock: float = spec(0.03, 0, 1, unit="wellbeing/event", help="mental wellbeing lost at once to a hostile comment", box="hostility")


@dataclass
class OfflineParams:
    """Outcomes in the offline world: recovery, employment or education."""

    recovery_rate: float = spec(0.01, 0, 1, unit="1/day", help="daily approach of the recovery score to its target", box="offline")
    recovery_wellbeing: float = spec(0.5, 0, 5, unit="recovery/wellbeing", help="recovery gained per unit of mental wellbeing above baseline", box="offline")
    recovery_activation: float = spec(0.3, 0, 5, unit="recovery/100 PAM", help="recovery gained per 100 PAM points above baseline", box="offline")
    recovery_care: float = spec(0.05, 0, 1, unit="recovery", help="recovery gained while in care", box="offline")
    employment_gain: float = spec(0.0012, 0, 1, unit="1/day", help="daily chance of finding work or education at full recovery", box="offline")
    employment_loss: float = spec(0.003, 0, 1, unit="1/day", help="daily chance of losing work or education at zero recovery", box="offline")


@dataclass
class RoleParams:
    """Roles that change (ODD §7.2): the 90-9-1 shape is kept by the flows, not by fixed roles."""

    become_contributor: float = spec(0.0001, 0, 1, unit="1/day", help="daily chance a lurker online at full belonging becomes a contributor", source="assumption (balances burnout at 9 contributors per 90 lurkers, van Mierlo 2014, at the mean belonging online)", box="exchange")
    become_superuser: float = spec(0.00017, 0, 1, unit="1/day", help="daily chance an online contributor becomes a superuser", source="assumption (balances superusers' burnout, faster for the hostility their posts draw, at 1 superuser per 9 contributors, van Mierlo 2014)", box="exchange")
    burnout: float = spec(0.0005, 0, 1, unit="1/day", help="daily chance an online contributor falls back to lurking, or a superuser to contributing (burnout)", source="van Mierlo 2014 (the top 1% write 74.7% of content: faster turnover of roles spreads content over more people; 0.0005/day keeps it within the anchor's tolerance)", box="exchange")
    burnout_hostility: float = spec(4.0, 0, 100, unit="multiplier", help="how much recent hostility raises burnout", box="hostility")


@dataclass
class InformationParams:
    """Health information and misinformation met outside peer communities (ODD §7.6)."""

    offline_misinfo: float = spec(0.05, 0, 100, unit="items/day", help="misleading health items everyone meets per day outside peer communities (search engines, television, family)", box="misinformation")
    offline_correction: float = spec(0.148, 0, 100, unit="items/day", help="correcting health items everyone meets per day outside peer communities (reliable sites, family, services); set so that the misled share of people never online stays at its day-0 value (ODD §7.6)", source="assumption (derived from other defaults, not data: set with the per-item effects of Schmid & Bauer 2025 and Walter 2021 so that the offline misled share stays at population.initial_misinformed_share, ODD §7.6)", box="misinformation")
    misinfo_effect: float = spec(0.0996, 0, 10, unit="1/item", help="hazard with which one misleading item met outside peer communities misleads: 1 - e^-0.0996 = 9.5% of the unaware, the share moved across the belief midpoint by g = 0.24", source="Schmid & Bauer 2025: exposure to health misinformation raised belief in it, g = 0.24 [0.10, 0.38] (meta-analysis of 14 RCTs, N = 18,115, general populations); read as the share moved across the belief midpoint by one item, Phi(0.24) - 1/2 = 0.095", box="misinformation")
    correction_effect: float = spec(0.169, 0, 10, unit="1/item", help="hazard with which one correcting item corrects a misleading belief: 1 - e^-0.169 = 15.5%, the share moved across the belief midpoint by d = 0.40", source="Walter 2021: corrections of health misinformation on social media lowered belief in it, d = 0.40 [0.25, 0.55] (meta-analysis, k = 24, N = 6,086); read as the share moved across the belief midpoint by one correcting item, Phi(0.40) - 1/2 = 0.155", box="misinformation")


@dataclass
class TrustParams:
    """Trust in online health information: the paper's uncertainty about reliability (ODD §7.7)."""

    learning_gain: float = spec(0.01, 0, 1, unit="1/day", help="rate at which learning from accurate peer posts raises trust toward 1", box="uncertainty")
    moderation_gain: float = spec(0.01, 0, 1, unit="1/day", help="rate at which a community's moderation raises its members' trust toward 1", source="assumption (HORYZONS: moderated spaces are trusted)", box="uncertainty")
    found_out_loss: float = spec(0.3, 0, 1, unit="1/event", help="share of trust lost when a misleading belief is corrected (a person finds out they were misled)", box="uncertainty")
    hostility_loss: float = spec(0.05, 0, 1, unit="1/event", help="share of trust lost to one hostile comment", box="uncertainty")
    relaxation: float = spec(0.005, 0, 1, unit="1/day", help="daily return of trust to its baseline", box="uncertainty")


@dataclass
class PrivacyParams:
    """Disclosure of one's diagnosis online and the harm it can bring (ODD §7.12)."""

    disclose_per_post: float = spec(0.05, 0, 1, unit="1/post", help="chance a post discloses its author's diagnosis (before the platform's disclosure norm)", source="assumption (Naslund 2014: people with SMI share their diagnosis in YouTube videos)", box="privacy")
    harm_rate: float = spec(0.0015, 0, 1, unit="1/day", help="daily chance that a disclosed member of a fully exposed community is harmed (identified, judged, contacted unwanted)", source="assumption (Naslund & Aschbrenner 2019: 36% of 90 users with SMI were concerned about privacy risks: employment, stigma, relationships, hostility)", box="privacy")
    harm_stigma: float = spec(0.1, 0, 1, unit="1/event", help="share of the gap to full self-stigma closed by a privacy harm", box="privacy")
    harm_employment: float = spec(0.1, 0, 1, unit="probability", help="chance a privacy harm costs an employed person their work or education", source="assumption (Naslund & Aschbrenner 2019: threats to employment)", box="privacy")
    harm_leave: float = spec(3.0, 0, 100, unit="multiplier", help="how much having been harmed raises the chance of leaving one's community", box="privacy")


@dataclass
class AcuteParams:
    """Acute care use: emergency visits or admissions (ODD §7.11)."""

    rate: float = spec(0.00029, 0, 1, unit="1/day", help="daily chance of an acute care episode of a person not vulnerable, at baseline mental wellbeing (0.1 per person-year)", box="care")
    vulnerable_ratio: float = spec(4.5, 1, 100, unit="multiplier", help="acute care of vulnerable people relative to others (0.00131/day: 38% readmitted within a year)", source="Johnson 2018: 83 of 216 (38%) of people discharged from crisis resolution teams were readmitted to acute care within a year (CORE trial, control arm); vulnerable people are taken to be people just after such a crisis, so their acute-care rate gives 38% a year", box="care")
    wellbeing_effect: float = spec(3.0, 0, 50, unit="log-rate per unit", help="each unit of mental wellbeing below one's baseline multiplies acute care by e^effect", box="care")


@dataclass
class Event:
    """A timed change: at ``day``, set parameter ``param`` (dotted path) to ``value``."""

    day: int = 0
    param: str = ""
    value: Any = None
    note: str = ""


@dataclass
class ScenarioInfo:
    """Which scenario this is and what question it answers."""

    name: str = "baseline"
    description: str = ""
    events: list[Event] = field(default_factory=list)


GROUPS = {
    "population": PopulationParams,
    "communities": CommunityParams,
    "network": NetworkParams,
    "mechanisms": MechanismSwitches,
    "submodels": SubmodelSwitches,
    "entry": EntryParams,
    "exchange": ExchangeParams,
    "stigma": StigmaParams,
    "activation": ActivationParams,
    "care": CareParams,
    "intervention": InterventionParams,
    "wellbeing": WellbeingParams,
    "offline": OfflineParams,
    "roles": RoleParams,
    "information": InformationParams,
    "trust": TrustParams,
    "privacy": PrivacyParams,
    "acute": AcuteParams,
}


@dataclass
class ModelParams:
    """Everything that defines one simulation run, scientifically (no paths, no launcher settings)."""

    seed: int = spec(42, 0, 2**63 - 1, help="root seed of every random draw in the run")
    steps: int = spec(365, 0, 100_000, unit="days", help="number of daily steps to simulate")
    record_every: int = spec(1, 1, 100_000, unit="days", help="record population aggregates every this many days")
    scenario: ScenarioInfo = field(default_factory=ScenarioInfo)
    population: PopulationParams = field(default_factory=PopulationParams)
    communities: CommunityParams = field(default_factory=CommunityParams)
    network: NetworkParams = field(default_factory=NetworkParams)
    mechanisms: MechanismSwitches = field(default_factory=MechanismSwitches)
    submodels: SubmodelSwitches = field(default_factory=SubmodelSwitches)
    entry: EntryParams = field(default_factory=EntryParams)
    exchange: ExchangeParams = field(default_factory=ExchangeParams)
    stigma: StigmaParams = field(default_factory=StigmaParams)
    activation: ActivationParams = field(default_factory=ActivationParams)
    care: CareParams = field(default_factory=CareParams)
    intervention: InterventionParams = field(default_factory=InterventionParams)
    wellbeing: WellbeingParams = field(default_factory=WellbeingParams)
    offline: OfflineParams = field(default_factory=OfflineParams)
    roles: RoleParams = field(default_factory=RoleParams)
    information: InformationParams = field(default_factory=InformationParams)
    trust: TrustParams = field(default_factory=TrustParams)
    privacy: PrivacyParams = field(default_factory=PrivacyParams)
    acute: AcuteParams = field(default_factory=AcuteParams)
    # Named communities' own settings (``community.<name>.<property>``); empty: every community as
    # ``communities.*``. Last, so the scalar parameters keep their order.
    community: dict[str, CommunitySettings] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Validation


def _scalar_fields(params: ModelParams):
    for f in dataclasses.fields(params):
        if f.name in ("scenario", "community"):
            continue
        value = getattr(params, f.name)
        if dataclasses.is_dataclass(value):
            for g in dataclasses.fields(value):
                yield f"{f.name}.{g.name}", getattr(value, g.name), dict(g.metadata)
        else:
            yield f.name, value, dict(f.metadata)


_SETTING_META = {f.name: dict(f.metadata) for f in dataclasses.fields(CommunitySettings)}
_SETTING_DEFAULTS = dataclasses.asdict(CommunitySettings())


def iter_fields(params: ModelParams):
    """Yield ``(dotted_name, value, metadata)`` for every scalar parameter.

    The per-community settings a run sets (``community.<name>.<property>``, not null) come last;
    the defaults set none (``opens`` of 0 is not yielded), so the parameter space of sensitivity analyses and the dashboard's
    controls are those of ``communities.*`` alone.
    """
    yield from _scalar_fields(params)
    for name, settings in (params.community or {}).items():
        for prop in COMMUNITY_SETTINGS:
            value = getattr(settings, prop)
            if value is not None and value != _SETTING_DEFAULTS[prop]:
                yield f"community.{name}.{prop}", value, dict(_SETTING_META[prop])


def _range_text(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"[{lo}, {hi}]"
    if lo is not None:
        return f">= {lo}"
    return f"<= {hi}"


def _check_type(name: str, value, default) -> None:
    """The value must have the kind of its default: a number, a whole number, a switch, text."""
    if isinstance(default, bool):
        ok, kind = isinstance(value, (bool, np.bool_)), "true or false"
    elif isinstance(default, int):
        ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        kind = "a whole number"
    elif isinstance(default, float):
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        kind = "a number"
    elif isinstance(default, str) or default is None:
        ok, kind = value is None or isinstance(value, str), "text"
    elif isinstance(default, list):
        ok, kind = isinstance(value, (list, tuple)), "a list"
    else:
        return
    if not ok:
        raise ConfigError(f"{name}={value!r} is not {kind}")


def _check_number(name: str, value, meta: dict) -> None:
    if isinstance(value, bool):
        return
    if not isinstance(value, (int, float, np.integer, np.floating)):
        return
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            f"{name}={value} is not a finite number; allowed range {_range_text(lo, hi)}"
        )
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        unit = f" {meta['unit']}" if meta.get("unit") else ""
        raise ConfigError(
            f"{name}={value} is out of range: allowed {_range_text(lo, hi)}{unit} ({meta.get('help', '')})"
        )


def validate(params: ModelParams) -> ModelParams:
    """Check every value and every combination; raise :class:`ConfigError` naming what is wrong.

    Parameters
    ----------
    params : ModelParams
        The parameters to check.

    Returns
    -------
    ModelParams
        The same object, for chaining.

    Raises
    ------
    ConfigError
        A value is out of its declared range or of the wrong type, or values contradict each other.
    """
    for (name, value, meta), (_, default, _) in zip(
        _scalar_fields(params), _scalar_fields(_DEFAULTS)
    ):
        _check_type(name, value, default)
        _check_number(name, value, meta)
    p = params.population
    mix = p.share_schizophrenia + p.share_bipolar + p.share_depression
    if abs(mix - 1.0) > 1e-6:
        raise ConfigError(
            "population.share_schizophrenia + share_bipolar + share_depression must sum to 1, "
            f"got {mix:.6g}"
        )
    if p.share_superuser + p.share_contributor > 1:
        raise ConfigError(
            "population.share_superuser + population.share_contributor must be at most 1, got "
            f"{p.share_superuser + p.share_contributor:.6g}"
        )
    care0 = p.share_in_care + p.share_seeking + p.share_disengaged
    if care0 > 1 + 1e-12:
        raise ConfigError(
            f"population.share_in_care + share_seeking + share_disengaged must be at most 1, got {care0:.6g}"
        )
    c = params.communities
    if c.count > p.size:
        raise ConfigError(
            f"communities.count={c.count} is more than population.size={p.size}: "
            "every community needs at least one possible member"
        )
    if c.intervention_communities > c.count:
        raise ConfigError(
            f"communities.intervention_communities={c.intervention_communities} exceeds "
            f"communities.count={c.count}"
        )
    if not c.platforms:
        raise ConfigError(f"communities.platforms is empty; choose from {list(PLATFORMS)}")
    for kind in c.platforms:
        if kind not in PLATFORMS:
            raise ConfigError(
                f"communities.platforms: unknown platform {kind!r}; known: {list(PLATFORMS)}"
            )
    _check_communities(params)
    n = params.network
    if n.kind not in NETWORK_KINDS:
        raise ConfigError(
            f"network.kind={n.kind!r} is unknown; choose one of {list(NETWORK_KINDS)}"
        )
    if n.kind in ("edgelist", "graphml") and not n.path:
        raise ConfigError(f"network={n.kind} needs network.path=/path/to/file")
    if (
        n.kind in ("sbm", "barabasi_albert", "watts_strogatz")
        and p.size > 1
        and n.mean_degree > p.size - 1
    ):
        raise ConfigError(
            f"network.mean_degree={n.mean_degree} is impossible with population.size={p.size} "
            f"(at most {p.size - 1})"
        )
    for ev in params.scenario.events:
        if ev.day < 0 or ev.day > params.steps:
            raise ConfigError(
                f"scenario event '{ev.param}' on day {ev.day} is outside the run (a run of "
                f"steps={params.steps} has "
                f"{f'days 0 to {params.steps - 1}' if params.steps > 0 else 'no days'})"
            )
        _check_event(params, ev)
    return params


_DEFAULTS = ModelParams()


# Groups fixed for a whole run: the people, their network, and which submodels exist (a submodel
# switched on mid-run would start from day-0 values that no longer fit the rest of the state).
FIXED_GROUPS = ("network", "population", "submodels")
# Fields fixed for a whole run in a group that may otherwise change: the communities themselves
# (how many, on which platforms, which host an intervention) are laid out on day 0.
FIXED_FIELDS = (
    "communities.count",
    "communities.platforms",
    "communities.intervention_communities",
)
# Run-wide settings a running model takes (PeerwellModel.set_params): how long it runs and how
# often it records. ``seed`` is not one: every draw of every day derives from it.
RUN_FIELDS_MID_RUN = ("steps", "record_every")


def changes_mid_run(name: str) -> bool:
    """Whether parameter ``name`` (dotted) may change while a model runs.

    The one rule for timed scenario events, ``PeerwellModel.set_params`` and the dashboard's
    controls: any other parameter takes a new model, started from day 0.
    """
    if "." not in name:
        return name in RUN_FIELDS_MID_RUN
    group = name.split(".")[0]
    if group == "community":
        return name.count(".") == 2 and name.rsplit(".", 1)[1] in COMMUNITY_MID_RUN
    return group in GROUPS and group not in FIXED_GROUPS and name not in FIXED_FIELDS


def _check_event(params: ModelParams, ev: Event) -> None:
    parts = ev.param.split(".")
    if parts[0] == "community":
        _name, prop = _community_key(params, ev.param, adding=False)
        if prop not in COMMUNITY_MID_RUN:
            raise ConfigError(
                f"scenario event param {ev.param!r} cannot change during a run; a community's "
                f"{', '.join(COMMUNITY_MID_RUN)} can (its platform and whether it hosts the "
                f"intervention are set before the run)"
            )
        _check_setting(f"scenario event {ev.param}", prop, ev.value)
        return
    if len(parts) != 2 or parts[0] not in GROUPS or parts[0] in FIXED_GROUPS:
        allowed = [g for g in GROUPS if g not in FIXED_GROUPS]
        raise ConfigError(
            f"scenario event param {ev.param!r} must be GROUP.NAME with GROUP one of {allowed}"
        )
    group = getattr(params, parts[0])
    names = [f.name for f in dataclasses.fields(group)]
    if parts[1] not in names:
        raise ConfigError(
            f"scenario event param {ev.param!r}: {parts[0]} has no {parts[1]!r}; known: {names}"
        )
    if ev.param in FIXED_FIELDS:
        raise ConfigError(f"scenario event param {ev.param!r} cannot change during a run")
    meta = dict(next(f for f in dataclasses.fields(group) if f.name == parts[1]).metadata)
    _check_type(f"scenario event {ev.param}", ev.value, getattr(getattr(_DEFAULTS, parts[0]), parts[1]))
    _check_number(f"scenario event {ev.param}", ev.value, meta)


def with_overrides(params: ModelParams, overrides: dict[str, Any]) -> ModelParams:
    """Return a copy of ``params`` with dotted-name overrides applied and validated.

    ``community.<name>.<property>`` sets one community's own value; a name that is not a generic
    community adds one (then it needs ``community.<name>.platform``).
    """
    new = dataclasses.replace(params)
    for f in dataclasses.fields(new):
        v = getattr(new, f.name)
        if dataclasses.is_dataclass(v):
            setattr(new, f.name, dataclasses.replace(v))
    new.community = {k: dataclasses.replace(v) for k, v in (params.community or {}).items()}
    for key, value in overrides.items():
        if key.split(".")[0] == "community":
            _community_key(new, key, adding=True)
        set_param(new, key, value)
    return validate(new)


def set_param(params: ModelParams, dotted: str, value: Any) -> None:
    """Set one dotted parameter in place, with a clear error for an unknown name.

    ``community.<name>.<property>`` sets one community's own value (making its entry in
    ``params.community`` when it has none); the name is checked by ``validate``.
    """
    parts = dotted.split(".")
    if parts[0] == "community":
        if len(parts) != 3:
            raise ConfigError(
                f"unknown parameter {dotted!r}: a community's setting is "
                f"community.<name>.<property>, property one of {list(COMMUNITY_SETTINGS)}"
            )
        if parts[2] not in COMMUNITY_SETTINGS:
            raise ConfigError(
                f"unknown parameter {dotted!r}: a community has no {parts[2]!r}; "
                f"known: {list(COMMUNITY_SETTINGS)}"
            )
        if params.community is None:
            params.community = {}
        settings = params.community.setdefault(parts[1], CommunitySettings())
        setattr(settings, parts[2], value)
        return
    target = params
    for part in parts[:-1]:
        if not hasattr(target, part):
            raise ConfigError(
                f"unknown parameter {dotted!r}: no group {part!r}; groups: {list(GROUPS)}"
            )
        target = getattr(target, part)
    names = [f.name for f in dataclasses.fields(target)]
    if parts[-1] not in names:
        raise ConfigError(f"unknown parameter {dotted!r}; known in this group: {names}")
    if dataclasses.is_dataclass(getattr(target, parts[-1])):
        # A whole group (e.g. `intervention=1`) would replace its parameters with one value.
        inner = [f.name for f in dataclasses.fields(getattr(target, parts[-1]))]
        raise ConfigError(
            f"{dotted!r} is a group of parameters, not one; set one of them, e.g. "
            f"{dotted}.{inner[0]} (known in this group: {inner})"
        )
    setattr(target, parts[-1], value)


def get_param(params: ModelParams, dotted: str) -> Any:
    """The value of one dotted parameter; for ``community.<name>.<property>`` the community's
    effective value (its own, else the rule of ``communities.*``)."""
    parts = dotted.split(".")
    if parts[0] == "community":
        name, prop = _community_key(params, dotted, adding=False)
        return community_setting(params, name, prop)
    target: Any = params
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def _event_text(number: int, ev) -> str:
    """An event as its scenario file writes it, with its place in the list (1 = first)."""
    return f"event {number} {{day: {ev.day}, param: {ev.param}, value: {ev.value!r}}}"


def check_timed_events(params: ModelParams) -> None:
    """Refuse timed events that would be silently lost.

    ``validate`` already refuses an unknown parameter or a day outside 0..steps; this adds what
    it lets through because the model's own live changes (``PeerwellModel.set_params``, dated
    today, possibly the last day) pass through it too:

    - an event on day ``steps`` or later: a run of ``steps`` days steps through days 0 to
      ``steps - 1``, so it would never fire;
    - two events on the same day for the same parameter: both would "fire" in list order and the
      last would win without a word. Identical ones are refused too: nothing needs an event twice,
      and a copy that was meant to be edited into another day's event is how two usually arise.

    Raises
    ------
    ConfigError
        Naming the event(s) and what would be right.
    """
    events = params.scenario.events
    steps = params.steps
    for number, ev in enumerate(events, start=1):
        if ev.day >= steps:
            days = f"days 0 to {steps - 1}" if steps > 0 else "no days at all"
            raise ConfigError(
                f"scenario {_event_text(number, ev)} would never fire: a run of steps={steps} "
                f"has {days} (an event acts from the start of its day). Give a day below "
                f"{steps}, or set steps above {ev.day}"
            )
    first: dict[tuple[int, str], int] = {}
    for number, ev in enumerate(events, start=1):
        earlier = first.setdefault((ev.day, ev.param), number)
        if earlier == number:
            continue
        same = events[earlier - 1]
        what = (
            f"set {ev.param} to the same value on day {ev.day} twice"
            if same.value == ev.value
            else f"both set {ev.param} on day {ev.day}, and only the last would take effect"
        )
        raise ConfigError(
            f"scenario {_event_text(earlier, same)} and {_event_text(number, ev)} {what}; "
            "keep one of them, or move one to another day"
        )


# ---------------------------------------------------------------------------------------------
# Named communities


def generic_community_names(count: int, platforms: list[str] | tuple[str, ...]) -> list[str]:
    """Names of the ``count`` generic communities: platform + running number per platform.

    Community ``i`` is on platform ``platforms[i % len(platforms)]``; with platforms
    [facebook_group, youtube, twitter, forum] and count 6 the names are facebook_group_1,
    youtube_1, twitter_1, forum_1, facebook_group_2, youtube_2.
    """
    seen: dict[str, int] = {}
    names = []
    for i in range(count):
        kind = platforms[i % len(platforms)]
        seen[kind] = seen.get(kind, 0) + 1
        names.append(f"{kind}_{seen[kind]}")
    return names


def community_names(params: ModelParams) -> list[str]:
    """Names of every simulated community, in community-index order.

    The ``communities.count`` generic communities come first (see
    :func:`generic_community_names`), then the communities ``params.community`` adds (names that
    are not generic), in the order given.
    """
    c = params.communities
    names = generic_community_names(c.count, c.platforms)
    generic = set(names)
    names.extend(k for k in getattr(params, "community", {}) or {} if k not in generic)
    return names


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _community_key(params: ModelParams, dotted: str, *, adding: bool) -> tuple[str, str]:
    """``(name, property)`` of ``community.<name>.<property>``, or a ConfigError naming what is
    known. ``adding``: a name that is not yet a community may add one (overrides, config files);
    otherwise (events, ``get_param``) it must be a community of the run."""
    parts = dotted.split(".")
    if len(parts) != 3 or not parts[1]:
        raise ConfigError(
            f"unknown parameter {dotted!r}: a community's setting is community.<name>.<property>, "
            f"property one of {list(COMMUNITY_SETTINGS)}"
        )
    _, name, prop = parts
    if prop not in COMMUNITY_SETTINGS:
        raise ConfigError(
            f"unknown parameter {dotted!r}: a community has no {prop!r}; "
            f"known: {list(COMMUNITY_SETTINGS)}"
        )
    if not adding and name not in community_names(params):
        raise ConfigError(
            f"{dotted!r}: there is no community {name!r}; known communities: "
            f"{community_names(params)} (add one with community.{name}.platform=<platform>)"
        )
    return name, prop


def _check_setting(label: str, prop: str, value) -> None:
    """Type and range of one per-community setting (null is allowed: as ``communities.*``)."""
    if value is None:
        if prop == "opens":
            raise ConfigError(f"{label}=null: give the opening day (0 = open from the start)")
        return
    _check_type(label, value, COMMUNITY_SETTING_KINDS[prop])
    _check_number(label, value, _SETTING_META[prop])
    if prop == "platform" and value not in PLATFORMS:
        raise ConfigError(f"{label}={value!r} is not a platform; known: {list(PLATFORMS)}")


def _check_communities(params: ModelParams) -> None:
    """The named communities: known properties, values in range, added ones with a platform."""
    c = params.communities
    settings = params.community if params.community is not None else {}
    if not isinstance(settings, dict):
        raise ConfigError(
            f"community must map community names to their settings, got {settings!r}"
        )
    generic = generic_community_names(c.count, c.platforms) if c.platforms else []
    known = set(generic)
    for name, s in settings.items():
        if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS:
            raise ConfigError(
                f"community name {name!r}: use letters, digits and underscores (a name is typed "
                "on the command line as community.<name>.<property>)"
            )
        if not isinstance(s, CommunitySettings):
            raise ConfigError(
                f"community.{name} must hold a community's settings "
                f"({', '.join(COMMUNITY_SETTINGS)}), got {s!r}"
            )
        for prop in COMMUNITY_SETTINGS:
            _check_setting(f"community.{name}.{prop}", prop, getattr(s, prop))
        if name not in known and s.platform is None:
            raise ConfigError(
                f"community.{name}: {name!r} is not one of the generic communities {generic}, so "
                f"it adds a community, which needs its platform: community.{name}.platform=<one "
                f"of {', '.join(PLATFORMS)}>"
            )
        if s.closes is not None and s.closes <= s.opens:
            raise ConfigError(
                f"community.{name}.closes={s.closes} is not after community.{name}.opens="
                f"{s.opens}: a community closes after the day it opens"
            )
    total = len(community_names(params))
    if total > MAX_COMMUNITIES:
        raise ConfigError(
            f"{total} communities ({c.count} generic + {total - c.count} added): at most "
            f"{MAX_COMMUNITIES} in all"
        )


def community_setting(params: ModelParams, name: str, prop: str) -> Any:
    """The effective value of property ``prop`` of community ``name``: its own setting, else the
    value of ``communities.<prop>`` (platform: ``communities.platforms`` in turn; intervention:
    the first ``communities.intervention_communities`` generic communities; opens: day 0)."""
    names = community_names(params)
    k = names.index(name)
    own = (params.community or {}).get(name)
    value = getattr(own, prop) if own is not None else None
    if value is not None or prop == "closes":
        return value
    c = params.communities
    if prop == "platform":
        return c.platforms[k % len(c.platforms)]
    if prop == "intervention":
        return k < c.intervention_communities and k < c.count
    if prop == "opens":
        return 0
    return getattr(c, prop)
