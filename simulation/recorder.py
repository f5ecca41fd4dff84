"""Population aggregates of one day, computed vectorised from the state arrays.

These are the columns of ``trajectories.parquet``. Model-level reporters read them (per-agent
reporters are about 30 times slower). ``OUTCOMES`` documents the main ones.
"""

from __future__ import annotations

import numpy as np

from .params import DIAGNOSES
from .state import State

# PAM level cut-points (Hibbard et al.): L1 <= 47.0; L2 47.1-55.1; L3 55.2-67.0; L4 >= 67.1.
PAM_CUTS = (47.05, 55.15, 67.05)
STIGMA_MODERATE_HIGH = 0.5  # ISMI 2.5 on the 1-4 scale, rescaled to 0-1

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
}


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else 0.0


def summarize(st: State) -> dict[str, float]:
    """All aggregates of the current day as a flat dict of floats."""
    x, s, f = st.cur, st.static, st.scratch
    a = x["activation"]
    care = x["care"]
    online = x["community"] >= 0
    misled = x["misinfo"] == 1
    out: dict[str, float] = {}
    out["activation_mean"] = _mean(a)
    out["activation_sd"] = float(a.std())
    levels = np.searchsorted(PAM_CUTS, a, side="left") if a.size else a
    for k in range(4):
        out[f"pam_level{k + 1}_share"] = _mean(levels == k)
    out["not_seeking_share"] = _mean(care == 0)
    out["seeking_share"] = _mean(care == 1)
    out["care_seeking_share"] = _mean((care == 1) | (care == 2))
    out["in_care_share"] = _mean(care == 2)
    out["disengaged_share"] = _mean(care == 3)
    for name, key in (
        ("wellbeing_mental", "wellbeing_mental"),
        ("wellbeing_physical", "wellbeing_physical"),
        ("self_stigma", "stigma"),
        ("belonging", "belonging"),
        ("empowerment", "empowerment"),
        ("uncertainty", "uncertainty"),
        ("recovery", "recovery"),
    ):
        out[f"{name}_mean"] = _mean(x[key])
        out[f"{name}_sd"] = float(x[key].std())
    out["stigma_moderate_high_share"] = _mean(x["stigma"] > STIGMA_MODERATE_HIGH)
    out["belonging_online_mean"] = _mean(x["belonging"][online])
    out["misinformation_belief_mean"] = _mean(misled)
    out["belief_accuracy_mean"] = 1.0 - out["misinformation_belief_mean"]
    out["misinformation_corrected_share"] = _mean(x["misinfo"] == 2)
    out["online_share"] = _mean(online)
    out["ever_online_share"] = _mean(x["ever_online"] == 1)
    n_ever = int((x["ever_online"] == 1).sum())
    out["ever_posted_share"] = float((x["ever_posted"] == 1).sum() / n_ever) if n_ever else 0.0
    posts = x["posts"]
    total = float(posts.sum())
    for k, role in enumerate(("lurker", "contributor", "superuser")):
        out[f"content_share_{role}"] = float(posts[s["role"] == k].sum() / total) if total else 0.0
    out["enrolled_share"] = _mean(x["enrolled"] == 1)
    out["employed_share"] = _mean(x["employed"] == 1)
    out["flow_joins"] = float(f["joined"].sum())
    out["flow_leaves"] = float(f["left"].sum())
    out["flow_posts"] = float(f["posted"].sum())
    out["flow_support"] = float(f["support"].sum())
    out["flow_accurate_info"] = float(f["lam_accurate"].sum())
    out["flow_misinfo_exposure"] = float(f["lam_misinfo"].sum())
    out["flow_hostile"] = float(f["hostile"].sum())
    out["flow_misinfo_adopted"] = float(f["adopted"].sum())
    out["flow_corrected"] = float(f["corrected"].sum())
    out["flow_new_seekers"] = float(f["sought"].sum())
    out["flow_care_entries"] = float(f["entered_care"].sum())
    out["flow_enrolments"] = float(f["enrolled_new"].sum())
    dx = s["diagnosis"]
    for k, name in enumerate(DIAGNOSES):
        sel = dx == k
        out[f"activation_mean_{name}"] = _mean(a[sel])
        out[f"self_stigma_mean_{name}"] = _mean(x["stigma"][sel])
        out[f"in_care_share_{name}"] = _mean(care[sel] == 2)
        out[f"wellbeing_mental_mean_{name}"] = _mean(x["wellbeing_mental"][sel])
    return out
