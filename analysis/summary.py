"""Tables from result tables: no simulation is run here."""

from __future__ import annotations

import pandas as pd

# The outcomes the figures and report lead with (the list, in the user's order); here, in
# a module without scipy, so `peerwell run` can print them without loading the statistics.
MAIN = (
    "activation_mean",
    "care_seeking_share",
    "in_care_share",
    "wellbeing_mental_mean",
    "wellbeing_physical_mean",
    "self_stigma_mean",
    "belonging_mean",
    "misinformation_belief_mean",
)

# What `peerwell run` prints: the main outcomes, and who is online.
MAIN_OUTCOMES = [*MAIN, "online_share"]


def start_end_table(df: pd.DataFrame, outcomes: list[str] = MAIN_OUTCOMES) -> pd.DataFrame:
    """Each outcome on the first and last recorded day of one run, and the change."""
    first, last = df.iloc[0], df.iloc[-1]
    rows = [
        {
            "outcome": k,
            f"day {int(first['step'])}": first[k],
            f"day {int(last['step'])}": last[k],
            "change": last[k] - first[k],
        }
        for k in outcomes
    ]
    return pd.DataFrame(rows)
