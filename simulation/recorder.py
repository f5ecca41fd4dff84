"""Population aggregates of one day, computed vectorised from the state arrays.

These are the columns of ``trajectories.parquet``. Model-level reporters read them (per-agent
reporters are about 30 times slower). ``OUTCOMES`` documents the main ones. Each community's
aggregates of the same days (``communities.parquet``) are kept by ``CommunityLog``; their
columns are ``COMMUNITY_COLUMNS``. Each group's (``groups.parquet``: the groups are ``GROUPS``,
the columns ``GROUP_COLUMNS``) are kept by ``GroupTracker``.
"""

from __future__ import annotations

import inspect
import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import calls
from . import summary_kernel as K
from .params import DIAGNOSES, PLATFORMS
from .state import State

# PAM level cut-points (Hibbard et al.): L1 <= 47.0; L2 47.1-55.1; L3 55.2-67.0; L4 >= 67.1.
PAM_CUTS = (47.05, 55.15, 67.05)
STIGMA_MODERATE_HIGH = 0.5  # ISMI 2.5 on the 1-4 scale, rescaled to 0-1
# Participation inequality as van Mierlo 2014 measured it: people ranked by what they posted;
# the top 1% are superusers, the next 9% contributors, the rest lurkers.
TOP_SUPERUSERS, TOP_CONTRIBUTORS = 0.01, 0.10


def content_shares(
    posts: np.ndarray, among: np.ndarray | None = None
) -> tuple[float, float, float]:
    """The shares of all posts written by the lurkers, contributors and superusers of ``posts``
    (each person's posts so far; with ``among``, only the people where it is 1), classed by
    activity as van Mierlo 2014 did (``TOP_*``): roles change (ODD §7.2), so a person's role today
    does not say who wrote the posts so far.

    From the count of people at each number of posts (one parallel count,
    ``summary_kernel.post_histogram``, no sort): the top k posters' posts are the highest counts
    taken down to k people, the last count in part (its people all wrote the same number)."""
    if among is None:
        people = np.bincount(posts).astype(np.float64)
    else:
        top = int(posts.max()) if posts.size else 0
        people = K.post_histogram(posts, among, top).astype(np.float64)
    n = round(float(people.sum()))
    written = np.arange(people.shape[0], dtype=np.float64)
    total = float(people @ written)
    if total == 0.0 or n == 0:
        return 0.0, 0.0, 0.0

    def top(k: int) -> float:
        ranked, value = people[::-1], written[::-1]
        upto = np.cumsum(ranked)
        full = int(np.searchsorted(upto, k))  # bins wholly among the top k
        before = upto[full - 1] if full > 0 else 0.0
        return float(ranked[:full] @ value[:full] + (k - before) * value[full])

    superusers = top(int(np.ceil(TOP_SUPERUSERS * n)))
    contributors = top(int(np.ceil(TOP_CONTRIBUTORS * n))) - superusers
    return (total - superusers - contributors) / total, contributors / total, superusers / total


OUTCOMES: dict[str, str] = {
    "activation_mean": "mean patient activation (PAM, 0-100)",
    "care_seeking_share": "share seeking or receiving mental-health care (seeking + in care)",
    "seeking_share": "share seeking care and not yet in it",
    "in_care_share": "share in mental-health care",
    "wellbeing_mental_mean": "mean mental wellbeing (0-1)",
    "wellbeing_physical_mean": "mean physical wellbeing (0-1)",
    "self_stigma_mean": "mean self-stigma (0-1, ISMI rescaled)",
    "belonging_mean": "mean belonging / social connectedness (0-1)",
    "misinformation_belief_mean": "share holding a misleading health belief",
    "belief_accuracy_mean": "share with accurate health beliefs (1 - misinformation belief)",
    "uncertainty_mean": "mean uncertainty about one's own condition (0-1)",
    "empowerment_mean": "mean empowerment and hope (0-1)",
    "online_share": "share currently in an online peer community",
    "recovery_mean": "mean recovery score (0-1)",
    "employed_share": "share employed or in education",
    "enrolled_share": "share enrolled in an online intervention",
    "trust_mean": "mean trust in online health information (0-1)",
    "disclosed_share": "share who have disclosed their diagnosis online",
    "privacy_harm_share": "share ever harmed by a disclosure (identified, judged, contacted)",
    "acute_care_rate": "acute care episodes (emergency visits or admissions) per person-year since day 0",
}

# Daily flows: what each arrow of the conceptual model carried today (the classroom diagram).
FLOWS = {
    "flow_joins": "people who joined a community today",
    "flow_leaves": "people who left their community today",
    "flow_posts": "posts written today",
    "flow_support": "support exchanged today (sum of support signals)",
    "flow_accurate_info": "accurate health posts met today",
    "flow_misinfo_exposure": "misleading posts met today",
    "flow_hostile": "hostile or derogatory comments received today",
    "flow_misinfo_adopted": "people misled today",
    "flow_corrected": "misleading beliefs corrected today",
    "flow_new_seekers": "people who started seeking care today",
    "flow_care_entries": "people who entered care today",
    "flow_enrolments": "people who enrolled in an online intervention today",
    "flow_disclosures": "people who disclosed their diagnosis online today",
    "flow_privacy_harms": "people harmed by a disclosure today",
    "flow_acute_care": "acute care episodes today",
}


def _sd(sum_: float, sumsq: float, n: float) -> float:
    m = sum_ / n
    return float(np.sqrt(max(sumsq / n - m * m, 0.0)))


def summarize(st: State, day: int = 0, groups: GroupTracker | None = None) -> dict[str, float]:
    """All aggregates of the current day as a flat dict of floats (one fused pass over people).
    ``day`` is the days run so far (the person-time of ``acute_care_rate``). With ``groups``, the
    same pass also sums the groups' cells and ``groups`` keeps them as day ``day``'s record
    (``summary_kernel.day_sums``: one read of each person for both)."""
    cut1, cut2, cut3 = PAM_CUTS
    t, cells, came = calls.summary_sums(
        st, cut1=cut1, cut2=cut2, cut3=cut3, stigma_high=STIGMA_MODERATE_HIGH,
        groups=None if groups is None else groups.given(),
    )  # fmt: skip
    if groups is not None:
        groups.keep(day, cells, came)
    n = float(st.n)
    out: dict[str, float] = {}
    out["activation_mean"] = t[K.A_ACT] / n
    out["activation_sd"] = _sd(t[K.A_ACT], t[K.A_ACT2], n)
    for k in range(4):
        out[f"pam_level{k + 1}_share"] = t[K.A_L1 + k] / n
    out["not_seeking_share"] = t[K.A_C0] / n
    out["seeking_share"] = t[K.A_C1] / n
    out["care_seeking_share"] = (t[K.A_C1] + t[K.A_C2]) / n
    out["in_care_share"] = t[K.A_C2] / n
    out["disengaged_share"] = t[K.A_C3] / n
    for name, slot in (
        ("wellbeing_mental", K.A_WM),
        ("wellbeing_physical", K.A_WP),
        ("self_stigma", K.A_ST),
        ("belonging", K.A_BE),
        ("empowerment", K.A_EM),
        ("uncertainty", K.A_UN),
        ("recovery", K.A_RE),
        ("trust", K.A_TR),
    ):
        out[f"{name}_mean"] = t[slot] / n
        out[f"{name}_sd"] = _sd(t[slot], t[slot + 1], n)
    online = t[K.A_ONLINE]
    out["stigma_moderate_high_share"] = t[K.A_STIGMA_HIGH] / n
    out["belonging_online_mean"] = t[K.A_BE_ONLINE] / online if online else 0.0
    out["misinformation_belief_mean"] = t[K.A_MISLED] / n
    out["belief_accuracy_mean"] = 1.0 - out["misinformation_belief_mean"]
    out["misinformation_corrected_share"] = t[K.A_CORRECTED] / n
    out["online_share"] = online / n
    out["ever_online_share"] = t[K.A_EVER_ONLINE] / n
    ever = t[K.A_EVER_ONLINE]
    out["ever_posted_share"] = t[K.A_EVER_POSTED] / ever if ever else 0.0
    shares = content_shares(st.cur["posts"], st.cur["ever_online"])
    for role, share in zip(("lurker", "contributor", "superuser"), shares):
        out[f"content_share_{role}"] = share
    out["enrolled_share"] = t[K.A_ENROLLED] / n
    out["employed_share"] = t[K.A_EMPLOYED] / n
    out["disclosed_share"] = t[K.A_DISCLOSED] / n
    out["privacy_harm_share"] = t[K.A_HARMED] / n
    out["acute_care_rate"] = t[K.A_ACUTE] / (n * day / 365.0) if day > 0 else 0.0
    for name, slot in (
        ("flow_joins", K.A_F_JOIN),
        ("flow_leaves", K.A_F_LEAVE),
        ("flow_posts", K.A_F_POST),
        ("flow_support", K.A_F_SUPPORT),
        ("flow_accurate_info", K.A_F_ACC),
        ("flow_misinfo_exposure", K.A_F_MIS),
        ("flow_hostile", K.A_F_HOST),
        ("flow_misinfo_adopted", K.A_F_ADOPT),
        ("flow_corrected", K.A_F_CORR),
        ("flow_new_seekers", K.A_F_SOUGHT),
        ("flow_care_entries", K.A_F_ENTER),
        ("flow_enrolments", K.A_F_ENROL),
        ("flow_disclosures", K.A_F_DISCLOSE),
        ("flow_privacy_harms", K.A_F_HARM),
        ("flow_acute_care", K.A_F_ACUTE),
    ):
        out[name] = float(t[slot])
    for k, name in enumerate(DIAGNOSES):
        d = K.A_DX + K.DX_FIELDS * k
        count = t[d]
        out[f"activation_mean_{name}"] = t[d + 1] / count if count else 0.0
        out[f"self_stigma_mean_{name}"] = t[d + 2] / count if count else 0.0
        out[f"in_care_share_{name}"] = t[d + 3] / count if count else 0.0
        out[f"wellbeing_mental_mean_{name}"] = t[d + 4] / count if count else 0.0
    return {k: float(v) for k, v in out.items()}


# The columns of ``communities.parquet``: one row per community per recorded day. Flows are of
# the day that ends at ``step`` (zero on day 0); states are at its end.
COMMUNITY_COLUMNS: dict[str, str] = {
    "step": "the recorded day (as in trajectories.parquet)",
    "community": "the community's name (params.community_names)",
    "platform": "its platform",
    "members": "people in it at the end of the day, after the day's joining and leaving",
    "joined": "people who joined it today",
    "left": "people who left it today (counted in the community they left)",
    "posts": "posts its members wrote today",
    "hostile": "hostile or derogatory comments its members received today",
    "misleading_read": "misleading posts its members met today (expected number, sum of λ)",
    "accurate_read": "accurate health posts its members met today (expected number)",
    "support": "support its members received today (sum of their support signals, 0-1 each)",
    "belonging_mean": "mean belonging of its members at the end of the day (0 when empty)",
    "misinformed_share": "share of its members holding a misleading belief (0 when empty)",
    "volume": "its feed today: member posts plus peer supporters' posts",
    "moderation": "its moderator presence today (after the day's events)",
    "hostility": "its rate of hostile comments per post today, before moderation",
    "misinfo_prevalence": "share of its feed that is misleading content from outside today",
    "supporters": "trained peer supporters in it today",
    "intervention": "1 when it hosts an online intervention today",
}
# Sums of community_sums as counts, and as totals.
_COUNTS = {"members": K.M_MEMBERS, "joined": K.M_JOINED, "left": K.M_LEFT, "posts": K.M_POSTS,
           "hostile": K.M_HOSTILE}  # fmt: skip
_TOTALS = {"misleading_read": K.M_MISINFO_READ, "accurate_read": K.M_ACCURATE_READ,
           "support": K.M_SUPPORT}  # fmt: skip
# Community properties copied as they are on each recorded day (events may change them).
_PROPERTIES = ("volume", "moderation", "hostility", "misinfo_prevalence", "supporters",
               "intervention")  # fmt: skip


class CommunityLog:
    """Each community's aggregates on the recorded days, kept as one small array per day.

    ``record`` is one call of ``summary_kernel.community_sums`` (a pass over the people, run
    only on recorded days) and a copy of the community properties; ``table`` makes the
    DataFrame of ``communities.parquet``.
    """

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.sums: list[np.ndarray] = []
        self.properties: list[np.ndarray] = []

    def record(self, st: State, step: int) -> None:
        """Keep day ``step``: called after the day's swap (``st.cur`` is the day's end, its flows
        are in ``st.scratch``), or on day 0 with no flows."""
        self.steps.append(int(step))
        self.sums.append(calls.community_sums(st))
        self.properties.append(np.stack([st.comm[k].astype(np.float64) for k in _PROPERTIES], 1))

    def table(self, names: list[str], st: State) -> pd.DataFrame:
        """One row per community per recorded day, in day then community-index order.

        Parameters
        ----------
        names : list of str
            The communities' names in index order (``params.community_names``).
        st : State
            The run's state (for the communities' platforms, fixed for a run).

        Returns
        -------
        pandas.DataFrame
            ``COMMUNITY_COLUMNS``; ``community`` and ``platform`` are categorical, with the
            categories in community-index and ``PLATFORMS`` order.
        """
        nc = st.n_communities
        if len(names) != nc:
            raise ValueError(f"{len(names)} community names for {nc} communities")
        days = len(self.steps)
        sums = np.concatenate(self.sums) if days else np.zeros((0, K.M_FIELDS))
        props = np.concatenate(self.properties) if days else np.zeros((0, len(_PROPERTIES)))
        index = np.tile(np.arange(nc), days)
        cols: dict[str, object] = {
            "step": np.repeat(np.array(self.steps, dtype=np.int64), nc),
            "community": pd.Categorical.from_codes(index, categories=list(names)),
            "platform": pd.Categorical.from_codes(
                st.comm["platform"].astype(np.int64)[index], categories=list(PLATFORMS)
            ),
        }
        for name, slot in _COUNTS.items():
            cols[name] = sums[:, slot].astype(np.int64)
        for name, slot in _TOTALS.items():
            cols[name] = sums[:, slot]
        members = sums[:, K.M_MEMBERS]
        safe = np.maximum(members, 1.0)
        cols["belonging_mean"] = np.where(members > 0, sums[:, K.M_BELONGING] / safe, 0.0)
        cols["misinformed_share"] = np.where(members > 0, sums[:, K.M_MISLED] / safe, 0.0)
        for k, name in enumerate(_PROPERTIES):
            cols[name] = props[:, k]
        cols["intervention"] = props[:, _PROPERTIES.index("intervention")].astype(np.int8)
        return pd.DataFrame(cols, columns=list(COMMUNITY_COLUMNS))


# The groups of groups.parquet: everyone is in one group of each partition. The paper's question
# about a new space is what happens to the people who go there (movers), to those who stay where
# they were (stayers) and to those who stay offline; the partitions fixed at day 0 ask whom a
# scenario helps or harms.
GROUPS: dict[str, str] = {
    "all": "everyone (the population, the row the other groups are read against)",
    "online_day0": "in an online community on day 0",
    "offline_day0": "in no online community on day 0",
    **{name: f"diagnosis: {name}" for name in DIAGNOSES},
    "vulnerable": "vulnerable at the start: in an acute phase or of high need (harmed more)",
    "not_vulnerable": "not vulnerable at the start",
    "movers": "joined a community that opened after day 0 (at any time in the run)",
    "stayers": "online at some time, never in a community that opened after day 0",
    "offline": "never online",
}


class GroupOutcome(NamedTuple):
    """One outcome of groups.parquet: its slot in ``summary_kernel.summary_sums``' cells (where its
    definition is, ``person_outcomes``) and the column of trajectories.parquet that is its
    population value (``OUTCOMES`` says what it is)."""

    slot: int
    column: str


# Each outcome has a column ``<name>_mean``, the group's mean on the day, and ``<name>_change``,
# its mean change from day 0 per person (the same people at both ends).
GROUP_OUTCOMES: dict[str, GroupOutcome] = {
    "activation": GroupOutcome(K.G_ACTIVATION, "activation_mean"),
    "self_stigma": GroupOutcome(K.G_STIGMA, "self_stigma_mean"),
    "belonging": GroupOutcome(K.G_BELONGING, "belonging_mean"),
    "empowerment": GroupOutcome(K.G_EMPOWERMENT, "empowerment_mean"),
    "wellbeing_mental": GroupOutcome(K.G_WELLBEING_MENTAL, "wellbeing_mental_mean"),
    "care_seeking": GroupOutcome(K.G_CARE_SEEKING, "care_seeking_share"),
    "misinformation_belief": GroupOutcome(K.G_MISLED, "misinformation_belief_mean"),
    "uncertainty": GroupOutcome(K.G_UNCERTAINTY, "uncertainty_mean"),
    "trust": GroupOutcome(K.G_TRUST, "trust_mean"),
    "disclosed": GroupOutcome(K.G_DISCLOSED, "disclosed_share"),
    "privacy_harm": GroupOutcome(K.G_HARMED, "privacy_harm_share"),
    "online": GroupOutcome(K.G_ONLINE, "online_share"),
    "employed": GroupOutcome(K.G_EMPLOYED, "employed_share"),
    "recovery": GroupOutcome(K.G_RECOVERY, "recovery_mean"),
}
# The columns of groups.parquet: one row per group per recorded day. A change is per person, the
# same people on both days (a difference of two sums: 0 when within their rounding).
GROUP_COLUMNS: dict[str, str] = {
    "step": "the recorded day (as in trajectories.parquet)",
    "group": "the group's name (GROUPS)",
    "people": "people in the group on the day (movers, stayers and offline change over the run)",
    "share": "their share of everyone",
    **{
        column: text
        for name, o in GROUP_OUTCOMES.items()
        for column, text in (
            (f"{name}_mean", f"{OUTCOMES[o.column]}, in the group"),
            (f"{name}_change", f"the group's mean change in {name.replace('_', ' ')} from day 0"),
        )
    },
    "acute_care_rate": "the group's acute care episodes per person-year since day 0 (0 on day 0)",
}

# A person's cell: the combination of their groups, index into this shape (diagnosis, vulnerable,
# online at day 0, status: summary_kernel.STATUS_*), so that the kernel's ``fixed * STATUSES +
# status`` is the flat index. The first three are fixed at day 0.
CELL_SHAPE = (len(DIAGNOSES), 2, 2, K.STATUSES)
CELLS = math.prod(CELL_SHAPE)
# The kernel's parameters are the state variables the outcomes are read from, by name.
_OUTCOME_STATE = tuple(inspect.signature(K.group_outcome_values.py_func).parameters)


def fixed_cells(st: State) -> np.ndarray:
    """Each person's cell without the status (diagnosis, vulnerable, online at day 0), as int8:
    read at day 0, never again."""
    parts = (st.static["diagnosis"], st.static["vulnerable"], st.cur["community"] >= 0)
    return np.ravel_multi_index(
        tuple(np.asarray(a, dtype=np.int64) for a in parts), CELL_SHAPE[:3]
    ).astype(np.int8)


def _group_cells() -> dict[str, np.ndarray]:
    """Each group of ``GROUPS`` as the cells it is made of (a boolean mask over the cells)."""
    diagnosis, vulnerable, online0, status = np.unravel_index(np.arange(CELLS), CELL_SHAPE)
    cells = {
        "all": np.ones(CELLS, dtype=bool),
        "online_day0": online0 == 1,
        "offline_day0": online0 == 0,
        **{name: diagnosis == k for k, name in enumerate(DIAGNOSES)},
        "vulnerable": vulnerable == 1,
        "not_vulnerable": vulnerable == 0,
        "movers": status == K.STATUS_MOVER,
        "stayers": status == K.STATUS_STAYER,
        "offline": status == K.STATUS_OFFLINE,
    }
    if list(cells) != list(GROUPS):
        raise AssertionError(f"groups {list(cells)} made of cells, but GROUPS is {list(GROUPS)}")
    return cells


GROUP_CELLS = _group_cells()


_EPS = float(np.finfo(np.float64).eps)
# A day's record of the cells (``GroupTracker.cell_sums``): the day's sums (columns
# ``summary_kernel.G_*``), then from column START the day-0 sums of the same people (by slot).
START = K.G_FIELDS


def group_rows(steps: list[int], sums: list[np.ndarray], people: int) -> pd.DataFrame:
    """The rows of groups.parquet from each day's record of the cells.

    Parameters
    ----------
    steps : list of int
        The days.
    sums : list of numpy.ndarray
        Each day's record of the cells (``GroupTracker.cell_sums``).
    people : int
        Everyone (the denominator of ``share``).

    Returns
    -------
    pandas.DataFrame
        ``GROUP_COLUMNS``, one row per group of ``GROUPS`` per day, in day then ``GROUPS``
        order. An empty group's means, changes and rate are NaN.
    """
    days = len(steps)
    cells = np.stack(sums) if days else np.zeros((0, CELLS, START + K.G_OUTCOMES))
    # Cells added into groups: a sum over a few dozen rows, in cell order.
    g = np.stack([cells[:, member].sum(axis=1) for member in GROUP_CELLS.values()], axis=1)
    g = g.reshape(days * len(GROUPS), START + K.G_OUTCOMES)
    step = np.repeat(np.asarray(steps, dtype=np.int64), len(GROUPS))
    count = g[:, K.G_PEOPLE]
    per_person = np.where(count > 0, count, np.nan)  # an empty group: NaN, not 0
    cols: dict[str, object] = {
        "step": step,
        "group": np.tile(np.array(list(GROUPS), dtype=object), days),
        "people": count.astype(np.int64),
        "share": count / people,
    }
    for name, o in GROUP_OUTCOMES.items():
        cols[f"{name}_mean"] = g[:, K.G_SUM + o.slot] / per_person
        now, start = g[:, K.G_SUM + o.slot], g[:, START + o.slot]
        # The change is the difference of two sums of non-negative values; one within their
        # rounding (at most count * ε of each sum) is no change: the people's values are the
        # same, summed in another order.
        rounding = _EPS * count * (now + start)
        cols[f"{name}_change"] = np.where(np.abs(now - start) <= rounding, 0.0, now - start)
        cols[f"{name}_change"] /= per_person
    person_years = per_person * step / 365.0
    rate = np.divide(g[:, K.G_ACUTE], person_years, out=np.zeros(len(step)), where=step > 0)
    cols["acute_care_rate"] = np.where(count > 0, rate, np.nan)
    return pd.DataFrame(cols, columns=list(GROUP_COLUMNS))


class GroupTracker:
    """The groups of ``GROUPS`` and their outcomes on the recorded days (groups.parquet).

    Each person's cell (``CELL_SHAPE``) is fixed at day 0 but for the status, which ``update``
    keeps after each day: it marks the people in a community that opened after day 0 (its
    ``opens`` day is later than 0, read each day, so a community opened mid-run by a teacher
    counts), at no cost while no community opens later. ``record`` sums a day's outcomes by cell
    in the population's pass over the people (``summary_kernel.summary_sums``), which also keeps each
    cell's day-0 sums as people change status; the groups are then sums of a few dozen cells
    (``group_rows``).

    Parameters
    ----------
    st : State
        The run's state on day 0: the groups fixed at day 0, and the values changes are from.
    block : int
        People per block summed apart (fixed, so the sums are the same to the bit on any
        number of threads; a small block gives a small population several). At most
        ``summary_kernel.MAX_BLOCK``, so a block's counts fit their 16-bit lanes.
    """

    def __init__(self, st: State, block: int = K.CHUNK) -> None:
        if not 1 <= int(block) <= K.MAX_BLOCK:
            raise ValueError(f"GroupTracker block must be 1 to {K.MAX_BLOCK} people, not {block}")
        self.block = int(block)
        self.fixed = fixed_cells(st)
        self.start = K.group_outcome_values(**self._outcome_arrays(st))
        self.moved = np.zeros(st.n, dtype=bool)
        # Each person's status when last summed, and the day-0 sums of each cell's people then.
        self.status = np.full(st.n, K.NO_CELL, dtype=np.int8)
        self.start_sums = np.zeros((CELLS, K.G_OUTCOMES))
        self.people = st.n
        self.steps: list[int] = []
        self.sums: list[np.ndarray] = []

    @staticmethod
    def _outcome_arrays(st: State) -> dict[str, np.ndarray]:
        return {name: st.cur[name] for name in _OUTCOME_STATE}

    def update(self, st: State) -> None:
        later = st.comm["opens"] > 0
        if not later.any():
            return
        c = st.cur["community"]
        self.moved |= (c >= 0) & later[np.maximum(c, 0)]

    def given(self) -> tuple:
        """What ``summary_kernel.summary_sums`` takes as ``groups``."""
        return (self.block, CELLS, self.fixed, self.moved, self.status, *self.start)

    def cell_sums(self, st: State) -> np.ndarray:
        """Today's record of the cells (rows): the day's sums, then from column ``START`` the
        day-0 sums of the same people (the population's pass, its totals unused)."""
        cut1, cut2, cut3 = PAM_CUTS
        _, sums, came = calls.summary_sums(
            st, cut1=cut1, cut2=cut2, cut3=cut3, stigma_high=STIGMA_MODERATE_HIGH,
            groups=self.given(),
        )  # fmt: skip
        return self._record_of(sums, came)

    def _record_of(self, sums: np.ndarray, came: np.ndarray) -> np.ndarray:
        self.start_sums += came
        return np.concatenate([sums, self.start_sums], axis=1)

    def keep(self, step: int, sums: np.ndarray, came: np.ndarray) -> None:
        """Keep day ``step`` from sums taken in the population's pass (``summarize``)."""
        self.steps.append(int(step))
        self.sums.append(self._record_of(sums, came))

    def record(self, st: State, step: int) -> None:
        """Keep day ``step`` (after the day's swap, or on day 0)."""
        self.steps.append(int(step))
        self.sums.append(self.cell_sums(st))

    def table(self, st: State, step: int) -> pd.DataFrame:
        """Today's rows, one per group, from the state as it is now (``group_rows``)."""
        return group_rows([step], [self.cell_sums(st)], self.people)

    def trajectories(self) -> pd.DataFrame:
        """The rows of every recorded day (``group_rows``): the table of groups.parquet."""
        return group_rows(self.steps, self.sums, self.people)
