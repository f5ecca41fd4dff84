"""The global screen of the uncertain parameters (``peerwell calibrate method=morris``).

Morris's elementary effects (Morris 1991; Campolongo, Cariboni & Saltelli 2007's μ*), with
SALib's sampler and analyzer, over every prior of ``conf/evidence/priors.yaml``: the design is
drawn in the unit cube and mapped onto each prior by its quantile function, so an elementary
effect is the change of an output when a parameter moves by 2/3 of its prior's probability mass.

The outputs are the ones the posterior must serve:

- every **calibration target** ABC fits (the anchors with ``fit``), in units of the target's own
  standard error (μ*/SE: how many standard errors of the published figure the parameter moves
  the simulated one);
- the **main scenario contrasts** (a year online against none: empowerment, recovery, belonging,
  care-seeking; the moderated community against the baseline: care-seeking, mental wellbeing),
  in units of the contrast's spread over the design (μ*/σ).

A parameter is **selected** when its largest normalised μ* reaches ``SELECT_TARGET`` (a
target) or ``SELECT_CONTRAST`` (a contrast); at most ``MAX_SELECTED``, the most influential
first. A selected parameter is **fitted** by ABC when the targets identify it strongly (μ*/SE of
at least ``FIT_TARGET`` on some target); the others selected are **carried** at their priors
(a parameter the targets barely read has its prior as posterior, and ABC-SMC's importance weights
degenerate when it is given dimensions the data do not inform: an effective sample size of 2 of
300 particles in 18 dimensions on this model). The table goes to ``screen.csv`` (one row per parameter: its largest normalised μ* on the
targets and on the contrasts, the output where it is largest, ``selected``) and ``screen_effects.csv``
(every parameter × output), and the package's ``conf/evidence/screen.csv`` is the copy ABC reads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from peerwell.analysis.sensitivity import morris_indices
from peerwell.scenarios.evidence import calibrate as C
from peerwell.scenarios.evidence.anchors import anchors
from peerwell.scenarios.evidence.priors import Prior
from peerwell.scenarios.experiments.replicates import replicate_seeds
from peerwell.scenarios.experiments.store import atomic_write_bytes
from peerwell.simulation.errors import ConfigError

SCREEN_SCENARIOS = ("baseline", "offline_only", "moderated_community")
CONTRASTS = {  # name: (treated, control, measure)
    "online_vs_none.empowerment": ("baseline", "offline_only", "empowerment_mean"),
    "online_vs_none.recovery": ("baseline", "offline_only", "recovery_mean"),
    "online_vs_none.belonging": ("baseline", "offline_only", "belonging_mean"),
    "online_vs_none.care_seeking": ("baseline", "offline_only", "care_seeking_share"),
    "moderated_vs_baseline.care_seeking": ("moderated_community", "baseline", "care_seeking_share"),
    "moderated_vs_baseline.wellbeing_mental": (
        "moderated_community", "baseline", "wellbeing_mental_mean",
    ),
}  # fmt: skip
SELECT_TARGET = 1.0  # moves a calibration target by at least one of its standard errors
SELECT_CONTRAST = 1.0  # or a main contrast by as much as its spread over the whole design
MAX_SELECTED = 20
FIT_TARGET = 5.0  # fitted by ABC: moves a calibration target by five of its standard errors
LEVELS = 4


def outputs(reps: list[dict[str, float]]) -> dict[str, np.ndarray]:
    """Every screened output of the design points' measurements (one dict per point)."""
    out = {}
    for name, (t, c, key) in CONTRASTS.items():
        out[name] = np.array([r[f"{t}.{key}"] - r[f"{c}.{key}"] for r in reps])
    return out


def run_screen(
    priors: Sequence[Prior],
    overrides: Sequence[str] = (),
    *,
    trajectories: int = 10,
    seed: int = 1,
    n_jobs: int = -1,
    notify: Callable[[str], None] = print,
) -> dict:
    """Run the Morris design over ``priors`` and rank the parameters.

    Every design point runs the three screen scenarios on one seed (the same for every point:
    common random numbers, so an elementary effect is the parameter's and not the noise's).

    Returns
    -------
    dict
        ``table`` (DataFrame, one row per parameter, ranked), ``effects`` (DataFrame, parameter ×
        output), ``points`` (the design's runs), ``seconds``.
    """
    from SALib.sample import morris as morris_sample

    if trajectories < 2:
        raise ConfigError(f"trajectories={trajectories}: Morris needs at least 2")
    t0 = time.perf_counter()
    names = [p.name for p in priors]
    problem = {"num_vars": len(names), "names": names, "bounds": [(0.0, 1.0)] * len(names)}
    unit = morris_sample.sample(problem, trajectories, num_levels=LEVELS, seed=seed)
    values = np.column_stack([p.ppf(unit[:, j]) for j, p in enumerate(priors)])
    (run_seed,) = replicate_seeds(seed, 1)
    notify(
        f"screen: {len(unit)} design points × {len(SCREEN_SCENARIOS)} scenarios "
        f"({len(names)} parameters, {trajectories} trajectories)"
    )
    base = C.scenario_params(overrides, SCREEN_SCENARIOS)
    reps = C.run_points(base, [dict(zip(names, row)) for row in values], run_seed, n_jobs=n_jobs)
    fitted = [a for a in anchors(base["baseline"]) if a.fit and a.se()]
    ys: dict[str, tuple[np.ndarray, float, str]] = {}
    for a in fitted:
        y = np.array([r.get(a.measure, math.nan) for r in reps])
        ys[a.id] = (y, a.se(), "target")
    for name, y in outputs(reps).items():
        ys[name] = (y, float(np.nanstd(y)), "contrast")
    rows = []
    for out_name, (y, scale, kind) in ys.items():
        if not np.isfinite(y).all() or not scale or not math.isfinite(scale):
            notify(f"screen: {out_name} not measured at every point; left out")
            continue
        idx = morris_indices(names, [(0.0, 1.0)] * len(names), unit, y, num_levels=LEVELS,
                             seed=seed)  # fmt: skip
        for _, r in idx.iterrows():
            rows.append({
                "parameter": r["parameter"], "output": out_name, "kind": kind,
                "mu_star": float(r["mu_star"]), "mu_star_conf": float(r["mu_star_conf"]),
                "sigma": float(r["sigma"]), "scale": scale,
                "normalised": float(r["mu_star"]) / scale,
            })  # fmt: skip
    effects = pd.DataFrame(rows)
    table = rank(effects, names)
    points = pd.DataFrame(values, columns=names)
    return {"table": table, "effects": effects, "points": points,
            "seconds": round(time.perf_counter() - t0, 1), "trajectories": trajectories,
            "seed": seed, "overrides": list(overrides)}  # fmt: skip


def rank(effects: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """One row per parameter: its largest normalised μ* on targets and on contrasts, and whether
    the screen selects it (see the module docstring for the rule)."""
    rows = []
    for name in names:
        e = effects[effects["parameter"] == name]
        row = {"parameter": name}
        for kind in ("target", "contrast"):
            k = e[e["kind"] == kind]
            best = k.loc[k["normalised"].idxmax()] if len(k) else None
            row[f"{kind}_mu_star"] = float(best["normalised"]) if best is not None else 0.0
            row[f"{kind}_output"] = str(best["output"]) if best is not None else ""
        rows.append(row)
    table = pd.DataFrame(rows)
    table["influence"] = np.maximum(
        table["target_mu_star"] / SELECT_TARGET, table["contrast_mu_star"] / SELECT_CONTRAST
    )
    table = table.sort_values("influence", ascending=False, kind="stable").reset_index(drop=True)
    table["selected"] = (table["influence"] >= 1.0) & (table.index < MAX_SELECTED)
    table["fitted"] = table["selected"] & (table["target_mu_star"] >= FIT_TARGET)
    return table


def write(result: dict, out_dir: Path) -> Path:
    """``screen.csv``, ``screen_effects.csv``, ``screen_points.csv`` and ``screen.md``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, key in (("screen", "table"), ("screen_effects", "effects"),
                      ("screen_points", "points")):  # fmt: skip
        atomic_write_bytes(out / f"{name}.csv", result[key].to_csv(index=False).encode())
    atomic_write_bytes(out / "screen.md", markdown(result).encode())
    return out / "screen.csv"


def markdown(result: dict, priors: Sequence[Prior] | None = None) -> str:
    """The screen's table with the rule, for ``screen.md`` and the docs."""
    from peerwell.analysis.tables import markdown_table

    t = result["table"]
    prior_text = {p.name: p.text() for p in priors or ()}
    cells = [
        [r.parameter, prior_text.get(r.parameter, ""), f"{r.target_mu_star:.2f}",
         r.target_output, f"{r.contrast_mu_star:.2f}", r.contrast_output,
         "**fitted**" if r.fitted else "carried" if r.selected else "no"]
        for r in t.itertuples()
    ]  # fmt: skip
    header = ["parameter", "prior", "μ*/SE (target)", "on", "μ*/σ (contrast)", "on", "in ABC"]
    n = len(result["points"])
    return (
        f"Morris screen: {result['trajectories']} trajectories, {n} design points × "
        f"{len(SCREEN_SCENARIOS)} scenarios, seed {result['seed']}, overrides: "
        f"{' '.join(result['overrides']) or 'none'} ({result['seconds']} s).\n\n"
        f"Selected: μ*/SE ≥ {SELECT_TARGET:g} on a calibration target or μ*/σ ≥ "
        f"{SELECT_CONTRAST:g} on a main contrast, at most {MAX_SELECTED}; **fitted** by ABC when "
        f"μ*/SE ≥ {FIT_TARGET:g} (the targets identify it), otherwise **carried** at its prior "
        "into the posterior's draws.\n\n" + markdown_table(header, cells) + "\n"
    )


DOCS_INTRO = """# Parameter uncertainty: priors, the screen, the posterior

Most of peerwell's parameters are assumptions (`peerwell params` says which, with their basis).
A comparison whose interval shows only the noise of the random draws treats them all as known.
This page shows the three steps that carry their uncertainty into every result:

1. **Priors** (`conf/evidence/priors.yaml`, shown by `peerwell params` in the `prior` column):
   each uncertain parameter that might matter gets a distribution on a stated range with the
   basis of that range.
2. **Screen** (`peerwell calibrate method=morris`): Morris's elementary effects over the priors,
   on the calibration targets and on the main scenario contrasts, decide which parameters the
   calibration fits. The table below is that screen (its file is `conf/evidence/screen.csv`).
3. **Posterior** (`peerwell calibrate method=abc`): ABC-SMC fits the selected parameters to the
   calibration targets, never to the held-out ones; `peerwell validate evidence posterior=DIR`
   checks the held-out targets against the posterior predictive intervals, and `peerwell compare
   ... posterior=DIR/posterior.parquet draws=N` carries the posterior into every contrast. The
   researcher tutorial walks through all three.

**Speed.** A calibration needs thousands of runs, so `calibrate method=abc` sets each particle's
values on scenarios composed once and runs the particles on workers that stay up (no interpreter
and no Hydra composition per run). `python -m benchmarks.bench_calibration` runs the same 24
particles of the default model four ways side by side; on the 2-core development machine
(2026-12-07): a subprocess per run 7.1 particles/min (0.10× the serial loop), a serial loop
composing each run 68.6/min (1×), a serial loop composing once 110.1/min (1.61×), and the
calibration's batch on two workers 148.2/min (2.16×). The default calibration (6,000
evaluations) took 41 minutes there.

## The screen

The table was made with:

<!-- test: trajectories=2 population.size=300 steps=60 -->
```bash
{command}
```

{table}
"""


def docs_markdown(result: dict, priors: Sequence[Prior], command: str = "") -> str:
    """The docs page (docs/uncertainty.md): the three steps and this screen's table."""
    cmd = command or "peerwell calibrate method=morris"
    return DOCS_INTRO.replace("{command}", cmd).replace("{table}", markdown(result, priors))
