"""Scale consistency: per-person outcomes must not depend on how many people are simulated.

The simulated people are a sample of the people in the real communities (ODD §7.3): a person's
day follows from their community's real size and activity, not from how many simulated people
share it. This module measures that, as a reviewer would: the same scenario at two population
sizes, or with the same real communities spread over more simulated ones (4 or 8: the same platform mix), ``replicates`` seeds
each, and each outcome's difference with the tolerance it is judged by.

The tolerance is derived, not tuned: each run's population mean is one draw; the difference of
the two settings' means has the standard error ``SE = sqrt(s1²/R + s2²/R)`` from the spread across
replicates, and a difference within ``t(0.999, 2R - 2) · SE`` (Student's t, pooled degrees of
freedom) is sampling noise: a scale-consistent model fails one outcome's check about once in 500
(two-sided 0.002), and the seeds are fixed, so a passing check stays passing until the code
changes. A check is only worth its tolerance: ``informative`` says whether it could have seen
a change of ``DETECTABLE`` (10% of the outcome's mean; 30% of the rare misled share); the
artifact issue 18 removed was +40% belonging from 1,500 to 12,000 people.

    python -m peerwell.scenarios.evidence.scale [--replicates 5] [--days 180]

prints both comparisons as a table (the numbers in the issue 18 note).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from peerwell.scenarios.experiments.replicates import replicate_seeds
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import ModelParams, with_overrides

# Per-person outcomes at the last day: name -> what it is.
OUTCOMES = {
    "belonging": "mean belonging (0-1)",
    "activation": "mean PAM activation (0-100)",
    "care_seeking": "share seeking or in mental-health care",
    "wellbeing_mental": "mean mental wellbeing (0-1)",
    "stigma": "mean self-stigma (0-1)",
    "misled": "share holding a misleading belief",
}
CONFIDENCE = 0.999  # two-sided 1 - 0.002
# The change of an outcome's mean a check must be able to see. 10%, except the misled share: a
# rare state (about 5%) whose spread across seeds is that of an epidemic's course, so five seeds
# see a change of 30% of it (one and a half points); more seeds would narrow it as 1/sqrt(R).
DETECTABLE = {name: 0.10 for name in OUTCOMES} | {"misled": 0.30}


def outcome_means(params: ModelParams) -> dict[str, float]:
    """Run ``params`` and return each outcome's population mean on its last day."""
    m = PeerwellModel(params)
    m.run_model()
    cur = m.state.cur
    return {
        "belonging": float(cur["belonging"].mean()),
        "activation": float(cur["activation"].mean()),
        "care_seeking": float(np.isin(cur["care"], (1, 2)).mean()),
        "wellbeing_mental": float(cur["wellbeing_mental"].mean()),
        "stigma": float(cur["stigma"].mean()),
        "misled": float((cur["misinfo"] == 1).mean()),
    }


@dataclass(frozen=True)
class Check:
    """One outcome compared between two settings."""

    outcome: str
    mean_a: float
    mean_b: float
    difference: float  # b - a
    tolerance: float  # t(CONFIDENCE, 2R-2) · SE of the difference
    informative: bool  # tolerance < DETECTABLE[outcome] · |mean_a|

    @property
    def consistent(self) -> bool:
        return abs(self.difference) <= self.tolerance


def compare(
    base: ModelParams,
    a: dict[str, Any],
    b: dict[str, Any],
    *,
    replicates: int = 5,
    root_seed: int = 20261207,
) -> list[Check]:
    """Each outcome under overrides ``a`` and ``b`` of ``base``, ``replicates`` seeds each."""
    seeds = replicate_seeds(root_seed, replicates)
    runs = {
        side: [outcome_means(with_overrides(base, {**ov, "seed": s})) for s in seeds]
        for side, ov in (("a", a), ("b", b))
    }
    crit = stats.t.ppf(0.5 + CONFIDENCE / 2, 2 * replicates - 2)
    out = []
    for name in OUTCOMES:
        ya = np.array([r[name] for r in runs["a"]])
        yb = np.array([r[name] for r in runs["b"]])
        se = math.sqrt(ya.var(ddof=1) / replicates + yb.var(ddof=1) / replicates)
        tol = float(crit * se)
        out.append(
            Check(
                outcome=name,
                mean_a=float(ya.mean()),
                mean_b=float(yb.mean()),
                difference=float(yb.mean() - ya.mean()),
                tolerance=tol,
                informative=tol < DETECTABLE[name] * abs(float(ya.mean())),
            )
        )
    return out


def table(title: str, checks: Sequence[Check], labels: tuple[str, str]) -> str:
    """A markdown table of ``checks``."""
    rows = [
        f"### {title}",
        "",
        f"| outcome | {labels[0]} | {labels[1]} | difference | ± tolerance | within | informative |",
        "|---|---:|---:|---:|---:|:-:|:-:|",
    ]
    for c in checks:
        rows.append(
            f"| {c.outcome} | {c.mean_a:.4f} | {c.mean_b:.4f} | {c.difference:+.4f} "
            f"| {c.tolerance:.4f} | {'yes' if c.consistent else 'NO'} "
            f"| {'yes' if c.informative else 'no'} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicates", type=int, default=5)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--small", type=int, default=1500)
    ap.add_argument("--large", type=int, default=12000)
    args = ap.parse_args(argv)
    base = with_overrides(ModelParams(), {"steps": args.days, "record_every": args.days})
    sizes = compare(
        base,
        {"population.size": args.small},
        {"population.size": args.large},
        replicates=args.replicates,
    )
    print(table("Population size", sizes, (f"{args.small:,} people", f"{args.large:,} people")))
    print()
    split = compare(
        base,
        {"population.size": 6000, "communities.count": 4},
        {"population.size": 6000, "communities.count": 8},
        replicates=args.replicates,
    )
    print(
        table(
            "The same communities, spread over 4 or 8 (one or two of each platform)",
            split,
            ("4", "8"),
        )
    )


if __name__ == "__main__":
    main()
