"""Held-out validation: every target of ``conf/evidence/targets.yaml`` on the calibrated defaults
(``peerwell validate evidence``).

The model is run with replicates in the calibration scenarios (``calibrate.run_probes``: baseline,
offline_only, moderated_community) and in the control scenario of every held-out contrast (e.g.
the baseline without online corrections), replicate r of every scenario on the same seed (common
random numbers). Each target gives one row:

- ``level``: the measurement's mean over replicates, with its t-based 95% interval;
- ``effect``: per replicate, the contrast's statistic between its two scenarios on the people's
  last-day values (``smd``: difference of means over the pooled SD; ``logit_d``: ln odds ratio ×
  √3/π, a share's contrast on the SMD scale), then mean and t-interval over replicates (one
  replicate: the statistic's own sampling interval over the N people);
- ``trial``: the virtual trial ``peerwell.scenarios.evidence.trials.run_trial(design)`` (its
  arms, follow-up and statistic are the published trial's), at the run's population size.

**Within** is interval compatibility, not a mean in a window: when the published figure has a
value and a two-sided 95% interval, the difference simulated − published has standard error
√(SE_pub² + SE_sim²) (each SE = 95% half-width / 1.96; ratios on the log scale) and the target is
within when the difference's 95% interval contains 0. A published direction (some calibration
anchors: an effect above 0) is within only when the simulated 95% interval lies wholly on its
side, not when the mean does; a published bound or span when the simulated interval overlaps it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from peerwell.scenarios.evidence import calibrate as C
from peerwell.scenarios.evidence.targets import OUTCOMES, Target, load_targets
from peerwell.simulation.errors import PeerwellError

Z95 = 1.959964
WITHIN_RULE = (
    "difference test: within when the 95% interval of (simulated - published), SE = "
    "sqrt(SE_published^2 + SE_simulated^2) with each SE the 95% half-width / 1.96 (ratios on the "
    "log scale), contains 0; a published direction (an effect above or below 0): within when the "
    "simulated 95% interval lies wholly on that side; a published bound or span: within when the "
    "simulated 95% interval overlaps it"
)
RATIO_STATISTICS = ("ratio", "odds_ratio", "risk_ratio")


# ---------------------------------------------------------------------------------------------
# Statistics of a contrast, per replicate


def _smd(rep: dict, t: str, c: str, key: str, state: str) -> tuple[float, float]:
    m1, m0 = rep[f"{t}.{key}"], rep[f"{c}.{key}"]
    s1, s0 = rep[f"{t}.{state}_sd"], rep[f"{c}.{state}_sd"]
    n = rep[f"{t}.people"]
    pooled = math.sqrt((s1 * s1 + s0 * s0) / 2)
    d = (m1 - m0) / pooled if pooled > 0 else math.nan
    return d, math.sqrt(2 / n + d * d / (4 * n))


def _logit_d(rep: dict, t: str, c: str, key: str) -> tuple[float, float]:
    p1, p0 = rep[f"{t}.{key}"], rep[f"{c}.{key}"]
    n = rep[f"{t}.people"]
    if not (0 < p1 < 1 and 0 < p0 < 1):
        return math.nan, math.nan
    k = math.sqrt(3) / math.pi
    d = (math.log(p1 / (1 - p1)) - math.log(p0 / (1 - p0))) * k
    se = k * math.sqrt(1 / (n * p1) + 1 / (n * (1 - p1)) + 1 / (n * p0) + 1 / (n * (1 - p0)))
    return d, se


def contrast_value(target: Target, rep: dict) -> tuple[float, float]:
    """The target's statistic in one replicate and its sampling SE over the N people."""
    c = target.contrast
    t_name, c_name = scenario_keys(target)
    key = OUTCOMES[c.outcome]
    if c.statistic == "smd":
        d, se = _smd(rep, t_name, c_name, key, c.outcome)
    elif c.statistic == "logit_d":
        d, se = _logit_d(rep, t_name, c_name, key)
    else:  # difference
        d, se = rep[f"{t_name}.{key}"] - rep[f"{c_name}.{key}"], math.nan
    return c.sign * d, se


def scenario_keys(target: Target) -> tuple[str, str]:
    """The run names of a contrast's two arms: the control with overrides runs on its own."""
    c = target.contrast
    control = f"{target.name}__control" if c.overrides else c.control
    return c.treated, control


# ---------------------------------------------------------------------------------------------
# Interval compatibility


def _finite(*xs) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


def within(
    published: float | None,
    interval: tuple[float | None, float | None],
    simulated: float | None,
    simulated_ci: tuple[float, float] | None,
    *,
    ratio: bool = False,
) -> bool | None:
    """Whether the simulated and published figures are compatible (see the module docstring)."""
    if not _finite(simulated):
        return None
    lo, hi = interval
    s_lo, s_hi = simulated_ci if simulated_ci is not None else (simulated, simulated)
    if not _finite(s_lo, s_hi):
        s_lo = s_hi = simulated
    if _finite(published, lo, hi):
        f = math.log if ratio else (lambda x: x)
        if ratio and min(published, lo, hi, simulated, s_lo, s_hi) <= 0:
            return False
        se_pub = (f(hi) - f(lo)) / (2 * Z95)
        se_sim = (f(s_hi) - f(s_lo)) / (2 * Z95)
        diff = f(simulated) - f(published)
        return bool(abs(diff) <= Z95 * math.hypot(se_pub, se_sim))
    if published is None and (lo, hi) == (0, None):  # a direction: the effect is positive
        return bool(s_lo > 0)
    if published is None and (lo, hi) == (None, 0):  # ... or negative
        return bool(s_hi < 0)
    below = lo is not None and s_hi < lo
    above = hi is not None and s_lo > hi
    return not (below or above)


# ---------------------------------------------------------------------------------------------
# The run


def run_evidence(
    overrides: Sequence[str] = (),
    *,
    replicates: int = 6,
    seed: int = 1,
    n_jobs: int = -1,
    targets: Sequence[Target] | None = None,
    notify: Callable[[str], None] = print,
) -> dict:
    """Run every target of ``conf/evidence/targets.yaml`` and return the evidence report.

    Returns
    -------
    dict
        ``rows`` (one per target: ``target``, ``role``, ``source``, ``published``,
        ``published_ci``, ``simulated``, ``simulated_ci``, ``within``), ``seed``, ``config`` (the
        run settings, the within rule and, per target, kind, statistic and notes), ``version``.
    """
    from peerwell.scenarios.catalogue import load_scenario
    from peerwell.scenarios.evidence.anchors import anchors
    from peerwell.scenarios.experiments.replicates import replicate_seeds

    if replicates < 1:
        raise PeerwellError(f"replicates={replicates}: give at least 1")
    targets = list(load_targets() if targets is None else targets)
    base = C.scenario_params(overrides)
    for t in targets:
        if t.kind == "effect" and t.contrast is not None:
            treated, control = scenario_keys(t)
            for name, scen, extra in (
                (treated, t.contrast.treated, ()),
                (control, t.contrast.control, t.contrast.overrides),
            ):
                if name not in base:
                    base[name] = load_scenario(scen, [*overrides, *extra])
    seeds = replicate_seeds(seed, replicates)
    notify(f"validate evidence: {len(base)} scenarios × {replicates} replicates, "
           f"N = {base['baseline'].population.size}")  # fmt: skip
    reps = C.run_probes(base, seeds, n_jobs=n_jobs)
    by_id = {a.id: a for a in anchors(base["baseline"])}
    rows, details = [], {}
    for t in targets:
        note = t.note
        sim, sim_ci = math.nan, None
        if t.kind == "trial":
            sim, sim_ci, extra = _trial(t, base["baseline"], replicates, seed, overrides)
            note = "; ".join(x for x in (note, extra) if x)
            if extra:
                notify(f"note: {t.name}: {extra}")
        elif t.contrast is not None:
            vals = [contrast_value(t, rep) for rep in reps]
            sim, lo, hi = C.summarise([v for v, _ in vals])
            if len(vals) == 1 and _finite(vals[0][1]):
                lo, hi = sim - Z95 * vals[0][1], sim + Z95 * vals[0][1]
            sim_ci = (lo, hi)
        else:
            measure = by_id[t.name].measure if t.name in by_id else t.measure
            sim, lo, hi = C.summarise([rep.get(measure, math.nan) for rep in reps])
            sim_ci = (lo, hi)
        ok = within(t.value, t.interval, sim, sim_ci, ratio=t.statistic in RATIO_STATISTICS)
        rows.append({
            "target": t.name,
            "role": t.role,
            "source": t.source,
            "published": t.value,
            "published_ci": list(t.interval),
            "simulated": _num(sim),
            "simulated_ci": None if sim_ci is None or not _finite(*sim_ci)
            else [_num(sim_ci[0]), _num(sim_ci[1])],
            "within": ok,
        })  # fmt: skip
        details[t.name] = {
            "kind": t.kind,
            "statistic": t.statistic,
            "quantity": t.quantity,
            "note": note,
            "informs": list(t.informs),
        }
    p = base["baseline"]
    return {
        "rows": rows,
        "seed": seed,
        "config": {
            "population.size": p.population.size,
            "steps": p.steps,
            "replicates": replicates,
            "seeds": list(seeds),
            "overrides": list(overrides),
            "scenarios": sorted(base),
            "within_rule": WITHIN_RULE,
            "targets": details,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "version": _version(),
    }


# ---------------------------------------------------------------------------------------------
# Under parameter uncertainty: the same run for parameter sets drawn from a posterior

DRAWS_FILE = "evidence_draws.csv"
_DRAWS_KEY = "evidence_draws.json"  # what the draws in DRAWS_FILE were run with (resume)
PREDICTIVE_RULE = (
    "Each of the draws runs the evidence with its parameter set (after the command's overrides) "
    "on the same seeds; a target's value per draw is its mean over the draw's replicates (a "
    "trial or an effect: the draw's statistic); the predictive mean is the draws' mean and the "
    "95% posterior predictive interval their 2.5% and 97.5% quantiles. With few replicates per "
    "draw the interval carries the model's Monte Carlo noise as well as the parameters' "
    "uncertainty. Covered: the published value lies inside that interval (None: no published "
    "point value, or not run). Within: the difference test with the predictive mean and interval "
    "in place of the simulated mean and CI"
)


def _resumable(
    out: Path, key: dict, drawn_rows: list[int], names: list[str]
) -> tuple[dict, dict | None]:
    """The draws already in ``out/evidence_draws.csv`` by a run with the same ``key`` (posterior,
    draws, seed, replicates, overrides, targets): draw -> {target: value}, and the report of its
    first draw (the rows' and settings' template), or ``({}, None)``."""
    import json

    import pandas as pd

    try:
        saved = json.loads((out / _DRAWS_KEY).read_text())
        if saved.get("key") != key or saved.get("template") is None:
            return {}, None
        table = pd.read_csv(out / DRAWS_FILE)
    except (OSError, ValueError, AttributeError):
        return {}, None
    if list(table.columns) != ["draw", "row", "target", "value"]:
        return {}, None
    done = {}
    for d, part in table.groupby("draw"):
        d = int(d)
        if not 1 <= d <= len(drawn_rows) or set(part["row"]) != {drawn_rows[d - 1]}:
            continue
        values = dict(zip(part["target"], part["value"].astype(float), strict=True))
        if set(values) == set(names):
            done[d] = values
    return done, saved["template"]


def _write_draws(out: Path, values: dict[int, dict[str, float]], rows: list[int]) -> None:
    lines = ["draw,row,target,value"]
    for d in sorted(values):
        lines += [
            f"{d},{rows[d - 1]},{name},{repr(float(v)) if _finite(v) else ''}"
            for name, v in values[d].items()
        ]
    from peerwell.scenarios.experiments.store import atomic_write_bytes

    atomic_write_bytes(out / DRAWS_FILE, ("\n".join(lines) + "\n").encode())


def run_posterior(
    overrides: Sequence[str] = (),
    posterior: str | Path = "",
    *,
    draws: int = 20,
    replicates: int = 1,
    seed: int = 1,
    n_jobs: int = -1,
    targets: Sequence[Target] | None = None,
    notify: Callable[[str], None] = print,
    out_dir: Path | None = None,
) -> dict:
    """The evidence under parameter uncertainty: :func:`run_evidence` once per parameter set drawn
    from ``posterior`` (``experiments.posterior.draw(frame, draws, seed)``), the draw's overrides
    after ``overrides``, every draw on ``seed`` (common random numbers: draws differ by their
    parameters only).

    With ``out_dir``, ``evidence_draws.csv`` (draw, row, target, value) is rewritten there after
    every draw, and a rerun with the same posterior file, draws, seed, replicates, overrides and
    targets reuses the draws already in it.

    Returns
    -------
    dict
        The report of :func:`run_evidence` whose rows also carry ``predictive_mean``,
        ``predictive_interval`` ([2.5%, 97.5%] quantiles of the draws' values) and ``covered``
        (the published value inside that interval); ``simulated``/``simulated_ci`` are the
        predictive mean and interval and ``within`` is judged on them. Also ``posterior`` (path,
        sha256, draws, rows drawn, parameters), ``coverage`` (per role: covered, run, targets)
        and ``draws`` (per draw: row, {target: value}).
    """
    import json

    import numpy as np

    from peerwell.scenarios.experiments import posterior as P

    frame = P.load_posterior(posterior)  # refuses a bad file before anything runs
    drawn = P.draw(frame, draws, seed)
    path = P.posterior_file(posterior)
    targets = list(load_targets() if targets is None else targets)
    names = [t.name for t in targets]
    rows_drawn = [int(r) for r in drawn["row"]]
    key = {
        "posterior_sha256": P.sha256(path),
        "draws": draws,
        "seed": seed,
        "replicates": replicates,
        "overrides": list(overrides),
        "targets": names,
    }
    values: dict[int, dict[str, float]] = {}
    template = None
    out = None if out_dir is None else Path(out_dir)

    def save_key() -> None:  # what the CSV's draws were run with, and the report's template
        from peerwell.scenarios.experiments.store import atomic_write_bytes

        text = json.dumps({"key": key, "template": template}, indent=1, default=C._json)
        atomic_write_bytes(out / _DRAWS_KEY, (text + "\n").encode())

    if out is not None:
        values, template = _resumable(out, key, rows_drawn, names)
        out.mkdir(parents=True, exist_ok=True)
        save_key()
        _write_draws(out, values, rows_drawn)
    notes: set[str] = set()

    def inner(message: str) -> None:  # a trial's note once, not once per draw
        if message.startswith("note:") and message not in notes:
            notes.add(message)
            notify(message)

    notify(f"validate evidence: {draws} draws from {path} ({len(frame)} rows), "
           f"{replicates} replicate(s) each")  # fmt: skip
    for d in range(1, draws + 1):
        if d in values:
            notify(f"draw {d}/{draws}: row {rows_drawn[d - 1]}, reused from {DRAWS_FILE}")
            continue
        started = time.perf_counter()
        result = run_evidence(
            [*overrides, *P.overrides(drawn.iloc[d - 1])], replicates=replicates, seed=seed,
            n_jobs=n_jobs, targets=targets, notify=inner,
        )  # fmt: skip
        values[d] = {
            r["target"]: math.nan if r["simulated"] is None else r["simulated"]
            for r in result["rows"]
        }
        held = [r for r in result["rows"] if r["role"] == "held_out"]
        notify(f"draw {d}/{draws}: row {rows_drawn[d - 1]}, "
               f"{sum(bool(r['within']) for r in held)} of {len(held)} held-out targets within "
               f"({time.perf_counter() - started:.0f} s)")  # fmt: skip
        if template is None:
            template = result
            if out is not None:
                save_key()
        if out is not None:
            _write_draws(out, values, rows_drawn)
    assert template is not None
    by_name = {t.name: t for t in targets}
    for r in template["rows"]:
        t = by_name[r["target"]]
        x = np.array([values[d][t.name] for d in range(1, draws + 1)], dtype=float)
        x = x[np.isfinite(x)]
        mean, pi = (math.nan, None)
        if len(x):
            mean = float(x.mean())
            pi = tuple(float(q) for q in np.quantile(x, [0.025, 0.975]))
        covered = None
        if pi is not None and t.value is not None:
            covered = bool(pi[0] <= t.value <= pi[1])
        r["simulated"] = r["predictive_mean"] = _num(mean)
        r["simulated_ci"] = r["predictive_interval"] = None if pi is None else list(pi)
        r["within"] = within(t.value, t.interval, mean, pi, ratio=t.statistic in RATIO_STATISTICS)
        r["covered"] = covered
    cfg = template["config"]
    cfg["overrides"] = list(overrides)
    cfg["draws"] = draws
    cfg["predictive_rule"] = PREDICTIVE_RULE
    template["posterior"] = {
        "path": str(path),
        "sha256": key["posterior_sha256"],
        "draws": draws,
        "rows": rows_drawn,
        "parameters": P.parameters(frame),
    }
    template["coverage"] = coverage(template["rows"])
    template["draws"] = [
        {"draw": d, "row": rows_drawn[d - 1], "values": values[d]} for d in range(1, draws + 1)
    ]
    return template


def coverage(rows: Sequence[dict]) -> dict:
    """Per role: targets covered by the predictive interval, targets it was judged for, targets."""
    out = {}
    for role in ("held_out", "calibration"):
        mine = [r for r in rows if r["role"] == role]
        out[role] = {
            "covered": sum(r.get("covered") is True for r in mine),
            "run": sum(r.get("covered") is not None for r in mine),
            "targets": len(mine),
        }
    return out


def coverage_line(result: dict, role: str = "held_out") -> str:
    c = result["coverage"][role]
    what = "Held out" if role == "held_out" else "Calibration"
    line = (f"{what}: {c['covered']} of {c['run']} covered by the 95% posterior predictive "
            "interval")  # fmt: skip
    if c["run"] < c["targets"]:
        line += f" ({c['targets'] - c['run']} without a published value or not run)"
    return line


def _trial(t, params, replicates, seed, overrides):
    """A trial target's simulated effect and CI (``trials.run_trial``), or why it was not run: a
    design the given overrides make impossible is reported in its row, the rest still run."""
    from peerwell.scenarios.evidence import trials

    try:
        res = trials.run_trial(
            t.design, params, population_size=params.population.size,
            replicates=max(2, replicates), seed=seed, overrides=list(overrides),
        )  # fmt: skip
    except PeerwellError as exc:
        return math.nan, None, f"not run: {exc}"
    s = res["simulated"]
    lo, hi = s["ci"]
    return float(s["effect"]), (float(lo), float(hi)), ""


def _num(x) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("peerwell")
    except PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------------------------------------
# Writing it


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def _ci(ci) -> str:
    if ci is None:
        return ""
    lo, hi = ci
    return f"[{'−∞' if lo is None else _fmt(lo)}, {'∞' if hi is None else _fmt(hi)}]"


def table_markdown(result: dict, role: str | None = None) -> str:
    from peerwell.analysis.tables import markdown_table

    details = result["config"]["targets"]
    cells = []
    for r in result["rows"]:
        if role is not None and r["role"] != role:
            continue
        d = details[r["target"]]
        status = {True: "yes", False: "**no**", None: "not run"}[r["within"]]
        cells.append([
            r["target"], r["role"], d["kind"], d.get("statistic") or "", r["source"],
            f"{_fmt(r['published'])} {_ci(r['published_ci'])}",
            f"{_fmt(r['simulated'])} {_ci(r['simulated_ci'])}", status,
        ])  # fmt: skip
    simulated = "predictive mean [95% PI]" if "posterior" in result else "simulated (95% CI)"
    header = ["target", "role", "kind", "statistic", "source", "published (95% CI)",
              simulated, "within"]  # fmt: skip
    return markdown_table(header, cells)


def report_markdown(result: dict, command: str = "") -> str:
    cfg = result["config"]
    held = [r for r in result["rows"] if r["role"] == "held_out"]
    n_in = sum(bool(r["within"]) for r in held)
    n_run = sum(r["within"] is not None for r in held)
    lines = [
        f"Command: `{command or 'peerwell validate evidence'}` (peerwell {result['version']}); "
        f"N = {cfg['population.size']}, {cfg['steps']} days, {cfg['replicates']} replicates "
        f"(root seed {result['seed']}).\n",
    ]
    if "posterior" in result:
        lines += posterior_markdown(result)
    lines += [
        f"Held out: {n_in} of {n_run} run are within ({len(held) - n_run} not run).\n",
        f"Within: {cfg['within_rule']}.\n",
        "## Held-out targets\n",
        table_markdown(result, "held_out"),
        "\n## Calibration targets\n",
        table_markdown(result, "calibration"),
        "\n## Notes on the held-out targets\n",
    ]
    for r in held:
        d = cfg["targets"][r["target"]]
        extra = f" Informs: {', '.join(d['informs'])}." if d["informs"] else ""
        note = d["note"][:1].upper() + d["note"][1:]
        text = " ".join(f"{x.rstrip('.')}." for x in (d["quantity"], note) if x)
        lines.append(f"- **{r['target']}**: {text}{extra}")
    outside = [r for r in held if r["within"] is False]
    if outside:
        lines.append("\n## Held-out targets outside (findings about the model)\n")
        for r in outside:
            lines.append(
                f"- **{r['target']}**: simulated {_fmt(r['simulated'])} "
                f"{_ci(r['simulated_ci'])} against published {_fmt(r['published'])} "
                f"{_ci(r['published_ci'])}."
            )
    return "\n".join(lines) + "\n"


def posterior_markdown(result: dict) -> list[str]:
    """The posterior predictive check of the held-out targets: its lines of the report."""
    from peerwell.analysis.tables import markdown_table

    post, cfg = result["posterior"], result["config"]
    cells = [
        [r["target"], f"{_fmt(r['published'])} {_ci(r['published_ci'])}",
         f"{_fmt(r['predictive_mean'])} {_ci(r['predictive_interval'])}",
         {True: "yes", False: "**no**", None: "—"}[r["covered"]]]
        for r in result["rows"] if r["role"] == "held_out"
    ]  # fmt: skip
    return [
        "## Posterior predictive check of the held-out targets\n",
        f"{post['draws']} parameter sets drawn by weight from `{post['path']}` (sha256 "
        f"{post['sha256'][:12]}…; parameters {', '.join(post['parameters'])}), each run with "
        f"{cfg['replicates']} replicate(s) on the same seeds. {cfg['predictive_rule']}.\n",
        f"{coverage_line(result)}.\n",
        f"{coverage_line(result, 'calibration')} (for reference).\n",
        markdown_table(
            ["target", "published (95% CI)", "predictive mean [95% PI]", "covered"], cells
        ),
        "",
    ]


def write(result: dict, out_dir: Path, command: str = "") -> Path:
    """``evidence.json`` and ``evidence.md`` in ``out_dir`` (under a posterior also
    ``evidence_draws.csv``: draw, row, target, value)."""
    import json

    from peerwell.scenarios.experiments.store import atomic_write_bytes

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if "draws" in result:
        per_draw = {x["draw"]: x["values"] for x in result["draws"]}
        _write_draws(out, per_draw, [x["row"] for x in result["draws"]])
        result = {k: v for k, v in result.items() if k != "draws"}  # the table is the CSV
    text = json.dumps(result, indent=1, default=C._json, allow_nan=False)
    atomic_write_bytes(out / "evidence.json", (text + "\n").encode())
    md = "# Evidence: calibration and held-out targets\n\n" + report_markdown(result, command)
    atomic_write_bytes(out / "evidence.md", md.encode())
    return out


DOCS_INTRO = """# Evidence: held-out targets

Every empirical target of peerwell is listed once, in `conf/evidence/targets.yaml`, with what the
model measures, the published value and 95% interval, the population and setting it was observed
in, its source with table or page, its kind (`level`, `effect`, `trial`) and its **role**:

- **calibration**: the anchors `peerwell calibrate` reports and `calibrate fit=true` fits. Some of
  them only read back an input or a closed-form function of inputs (the hostility ratio, the
  content shares, the PAM means at day 0); their `note` in the file says so, and they are not
  evidence that the model is right.
- **held_out**: outcome effect sizes that no calibration code reads (`anchors.py` keeps only
  calibration targets, `calibrate.fit_residuals` refuses any other name, and
  `tests/test_evidence_targets.py` holds both). They are checked only here, on the calibrated
  defaults. A held-out target outside is a finding about the model, not a residual to tune away.

The table below was made with (about 40 s on two cores):

<!-- test: population.size=600 replicates=2 -->
```bash
peerwell validate evidence population.size=3000 replicates=6 seed=1 output_dir=outputs/evidence docs=docs/evidence.md
```

`peerwell validate evidence output_dir=DIR` runs the calibration scenarios and the control
scenario of every held-out contrast with replicates on common random numbers and writes
`DIR/evidence.json` (`rows`: `target`, `role`, `source`, `published`, `published_ci`,
`simulated`, `simulated_ci`, `within`; `seed`, `config`, `version`) and `DIR/evidence.md`.
Effects are contrasts between scenarios measured on the people's values on the last day: a
standardised mean difference (pooled SD) for continuous states, and ln(odds ratio)·√3/π for
shares. The virtual trials (`kind: trial`) run the published trial's design in the model
(`peerwell trial`, [Virtual trials](trials.md)).

**Within** is interval compatibility, not a mean in a window: the target is within when the 95%
interval of simulated − published contains 0, with the standard error of the difference
√(SE_published² + SE_simulated²) (each the 95% half-width / 1.96; ratios on the log scale). The
simulated interval is the replicates' t-interval (the model's Monte Carlo uncertainty), so a
held-out target passes when the model's expected effect is compatible with the published
estimate given the study's own uncertainty. A published direction (the `gain_*` calibration
anchors: an effect above 0) is within only when the whole simulated interval is on its side, not
when the mean is; a published bound or span when the simulated interval overlaps it.

Caveats that go with the table: the Lloyd-Evans effects come from offline peer support
(3–6 months after the intervention) and the model contrast is a year in online communities
against none; the model has no symptom state, so "symptoms" is read as mental wellbeing; the
misinformation meta-analyses measured belief right after single exposures in mostly general
populations, and both also set per-item parameters of the model (`informs` in the file), so
agreement there is partly by construction.

## Under parameter uncertainty: `posterior=` and coverage

The table is one parameter set, the calibrated defaults. A calibration that returns a posterior
sample (`DIR/posterior.parquet`: a column per parameter, named as on the command line, and
`weight`; see `peerwell.scenarios.experiments.posterior`) can be carried into the held-out
check:

```text
peerwell validate evidence posterior=DIR draws=20 [replicates=1] [seed=1] output_dir=OUT
```

`draws` parameter sets are resampled from the file by weight (with their own stream of `seed`),
and the evidence is run once per draw with the draw's values after the command's overrides, every
draw on the same seeds, so draws differ by their parameters only. A target's value in a draw is
its mean over the draw's replicates (an effect or a trial: the draw's statistic). Per target the
report gives the **predictive mean** (the draws' mean) and the **95% posterior predictive
interval** (the 2.5% and 97.5% quantiles of the draws' values), and **covered**: whether the
published value lies inside that interval. With one replicate per draw the interval carries the
model's Monte Carlo noise as well as the parameters' uncertainty; more replicates leave mostly
the parameters'. The key number is the count of the held-out targets covered ("Held out: k of n
covered by the 95% posterior predictive interval", on the console and in `OUT/evidence.md`); the
calibration targets' count is given for reference only, since the posterior was fitted to them.
**Within** is still reported, with the predictive mean and interval in place of the simulated
mean and CI.

`OUT/evidence.json` gains `posterior` (path, sha256 of the file, draws, the rows drawn,
parameters) and `coverage`, and each row `predictive_mean`, `predictive_interval` and `covered`
(`null`: no published point value, or not run). `OUT/evidence_draws.csv` (draw, row, target,
value) is rewritten after every draw; a rerun with the same posterior file, draws, seed,
replicates and overrides reuses the draws already in it and runs only the rest. A missing file, a
file that is not Parquet, a column that is not a model parameter or `draws` below 1 is refused
in one line before anything runs.

## The table

"""


def docs_markdown(result: dict, command: str = "") -> str:
    """The docs page (docs/evidence.md): the roles explained and the table of this run."""
    return DOCS_INTRO + report_markdown(result, command)
