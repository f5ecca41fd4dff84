"""The model's state as a struct of arrays: one numpy array per person-level variable.

Dynamic variables are double-buffered (``cur`` is day t, ``nxt`` is day t+1) so every kernel reads
one day and writes the next: results do not depend on the order people are updated in, nor on the
number of threads. Categorical states are int8; continuous ones float64 (the reference
implementation must agree to 1e-9, which float32 would not allow).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Person-level variables that change every day: name -> dtype.
DYNAMIC: dict[str, type] = {
    "community": np.int32,  # current community, -1 when offline
    "ever_online": np.int8,
    "ever_posted": np.int8,
    "posts": np.int32,  # posts written so far
    "belonging": np.float64,  # 0-1 social connectedness / group belonging
    "empowerment": np.float64,  # 0-1 personal empowerment and hope
    "stigma": np.float64,  # 0-1 self-stigma (ISMI 1-4 rescaled)
    "hostile_recent": np.float64,  # decaying count of hostile comments received
    "misinfo": np.int8,  # 0 unaware, 1 holds a misleading belief, 2 corrected
    "uncertainty": np.float64,  # 0-1 uncertainty about one's own condition
    "activation": np.float64,  # 0-100 PAM score
    "care": np.int8,  # 0 not seeking, 1 seeking, 2 in care, 3 disengaged
    "enrolled": np.int8,  # in an online intervention
    "wellbeing_mental": np.float64,  # 0-1
    "wellbeing_physical": np.float64,  # 0-1
    "recovery": np.float64,  # 0-1 recovery score
    "employed": np.int8,  # employed or in education
    "trust": np.float64,  # 0-1 trust in online health information (reliability of information)
    "disclosed": np.int8,  # has disclosed their diagnosis online (cannot be taken back)
    "privacy_harm": np.int8,  # has been harmed by a disclosure (identified, discriminated, contacted)
    "acute_visits": np.int32,  # acute care episodes so far (emergency visits or admissions)
    "role": np.int8,  # 0 lurker, 1 contributor, 2 superuser (roles change: ODD §7.2)
}

# The day-to-day variables each submodel writes (each has exactly one writer). A submodel that
# does not run (``submodels.<name>=false``) leaves them at their day-0 values: ``State.freeze``.
WRITES: dict[str, tuple[str, ...]] = {
    "membership": ("community", "ever_online"),
    "posting": ("ever_posted", "posts", "role"),
    "feed": (),
    "exchange": (),
    "social": ("belonging", "empowerment", "stigma", "hostile_recent"),
    "misinformation": ("misinfo",),
    "activation": ("uncertainty", "activation", "trust"),
    "care": ("care",),
    "intervention": ("enrolled",),
    "wellbeing": ("wellbeing_mental", "wellbeing_physical"),
    "privacy": ("disclosed", "privacy_harm"),
    "offline": ("recovery", "employed", "acute_visits"),
}


def frozen_variables(submodels) -> list[str]:
    """The variables whose writer does not run, given ``ModelParams.submodels``."""
    return [v for name, names in WRITES.items() if not getattr(submodels, name) for v in names]


# Person-level variables fixed at the start: name -> dtype.
STATIC: dict[str, type] = {
    "diagnosis": np.int8,  # 0 schizophrenia, 1 bipolar, 2 depression
    "use": np.float64,  # social-media use propensity, 0-1
    "home": np.int32,  # home community (block of the base network)
    "activation0": np.float64,
    "stigma0": np.float64,
    "empowerment0": np.float64,
    "uncertainty0": np.float64,
    "wellbeing_mental0": np.float64,
    "wm_base": np.float64,  # intercepts that make each target equal the day-0 value
    "wp_base": np.float64,
    "r_base": np.float64,
    "vulnerable": np.int8,  # in an acute phase or of high need at the start (harmed more)
    "trust0": np.float64,  # baseline trust in online health information
    "belonging_offline": np.float64,  # offline connectedness everyone has (family, friends, services)
}

# Per-day scratch: what happened today (flows), written before the state updates read it.
SCRATCH: dict[str, type] = {
    "joined": np.int8,
    "left": np.int8,
    "posted": np.int8,
    "post_misinfo": np.int8,
    "post_accurate": np.int8,
    "post_aware": np.int8,  # the author already knows the current misleading claim (misled or corrected)
    "hostile": np.int8,
    "reads": np.float64,
    "support": np.float64,  # support signal received today, 0-1
    "lam_misinfo": np.float64,  # misleading posts met today
    "lam_accurate": np.float64,  # accurate health posts met today
    "anti_stigma": np.float64,  # anti-stigma posts read today
    "lam_aware": np.float64,  # posts met today from people who already know the claim
    "norm_stigma": np.float64,  # mean self-stigma of tied co-members (own value when none)
    "adopted": np.int8,
    "corrected": np.int8,
    "sought": np.int8,
    "entered_care": np.int8,
    "enrolled_new": np.int8,
    "disclosed_new": np.int8,  # disclosed their diagnosis online today
    "harmed": np.int8,  # harmed by a disclosure today
    "acute_new": np.int8,  # an acute care episode today
}

# Community-level variables: name -> dtype (recomputed from parameters when an event fires).
COMMUNITY: dict[str, type] = {
    "platform": np.int8,
    "moderation": np.float64,
    "hostility": np.float64,
    "misinfo_prevalence": np.float64,
    "supporters": np.float64,
    "size": np.float64,  # real members (the simulated ones are a sample of them)
    "attraction": np.float64,  # weight in the choice among communities (ODD §7.1)
    "intervention": np.int8,
    "anti_stigma": np.float64,
    "disclosure": np.float64,  # how much members disclose here (the platform's norm)
    "exposure": np.float64,  # how exposed a disclosure is here: 1 open, less when closed or moderated
    "opens": np.int64,  # the day it opens (takes members from this day on)
    "closes": np.int64,  # the day it closes (population.NEVER: it does not)
    "open": np.int8,  # open today: opens <= day < closes (population.set_open, each day)
    # per day, from today's posts
    "members": np.int64,
    "volume": np.float64,
    "feed_misinfo": np.float64,
    "feed_accurate": np.float64,
    "feed_aware": np.float64,
    "member_share": np.float64,  # share of the feed written by members (not supporters)
}


def _alloc(spec: dict[str, type], n: int) -> dict[str, np.ndarray]:
    return {k: np.zeros(n, dtype=t) for k, t in spec.items()}


@dataclass
class State:
    """All arrays of one run. ``cur``/``nxt`` are swapped at the end of every step."""

    n: int
    n_communities: int
    static: dict[str, np.ndarray] = field(default_factory=dict)
    cur: dict[str, np.ndarray] = field(default_factory=dict)
    nxt: dict[str, np.ndarray] = field(default_factory=dict)
    scratch: dict[str, np.ndarray] = field(default_factory=dict)
    comm: dict[str, np.ndarray] = field(default_factory=dict)
    # What the gather over ties reads of each person, packed into one int32 (kernels.pack_kernel).
    tag: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    # Each kernel's arguments for today's ``cur`` and ``nxt``, bound by name and checked, and the
    # arrays calls gave that were checked (calls.KernelCall); ``swap`` brings in the other day's.
    # Write arrays in place: only ``freeze`` may put another array under a name.
    bindings: dict = field(default_factory=dict, repr=False, compare=False)
    swapped_bindings: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def empty(cls, n: int, n_communities: int) -> State:
        return cls(
            n=n,
            n_communities=n_communities,
            static=_alloc(STATIC, n),
            cur=_alloc(DYNAMIC, n),
            nxt=_alloc(DYNAMIC, n),
            scratch=_alloc(SCRATCH, n),
            comm=_alloc(COMMUNITY, n_communities),
            tag=np.zeros(n, dtype=np.int32),
        )

    def swap(self) -> None:
        self.cur, self.nxt = self.nxt, self.cur
        self.bindings, self.swapped_bindings = self.swapped_bindings, self.bindings

    def freeze(self, names) -> None:
        """Hold variables ``names`` fixed: day t and day t+1 share one array, so the swap cannot
        bring back an older value and an edit of ``cur`` (a seeded spreader, a dashboard change)
        holds. Only for variables whose writer does not run."""
        for name in names:
            self.nxt[name] = self.cur[name]
        self.bindings.clear()  # the kernels bound the arrays it replaced
        self.swapped_bindings.clear()

    def nbytes(self) -> int:
        parts = (self.static, self.cur, self.nxt, self.scratch, self.comm)
        return sum(a.nbytes for d in parts for a in d.values()) + self.tag.nbytes
