"""`peerwell validate` and `peerwell calibrate`: the classic-model checks and the anchor report.

peerwell validate model=sir r0=1.8 population.size=20000 seed=3 output_dir=/abs/path
peerwell validate all [output_dir=...] [docs=docs/validation.md]
peerwell calibrate [replicates=4] [fit=true budget=24] [config=.../calibrated.yaml] [key=value ...]
"""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
import textwrap
from pathlib import Path

from rich.console import Console
from rich.table import Table

from peerwell.analysis import classic as A
from peerwell.scenarios.cli.core import fail, options_and_overrides

# The calibration (which loads the model, Mesa and scipy.stats) is imported where it is used, so a
# wrong value is refused before any of that loads.
from peerwell.scenarios.evidence import classic as V
from peerwell.simulation.errors import PeerwellError

VALIDATE_USAGE = """usage: peerwell validate model=MODEL [key=value ...] [output_dir=DIR]
       peerwell validate all [seed=N] [scale=X] [output_dir=DIR]
                             [docs=docs/validation.md]
       peerwell validate evidence [replicates=6] [seed=1] [n_jobs=-1]
                [output_dir=DIR] [docs=docs/evidence.md] [group.name=value ...]
                [posterior=DIR [draws=20]]

Runs the production kernels configured to a classic model's limit and compares
them with its known answer. Prints simulated and analytic values side by side
and writes DIR/validation.json (keys model, params, simulated, analytic,
tolerance, within_tolerance, ...) and DIR/validation.png.

`all` runs the whole table (every model at several parameter values) and writes
DIR/validation.json, DIR/validation.md and a figure per model in DIR/figures/;
docs=PATH also runs `peerwell calibrate` and rewrites PATH (docs/validation.md)
with its figures beside it. scale=X multiplies every population (quick looks).

`evidence` runs every target of conf/evidence/targets.yaml (calibration and
held-out, virtual trials included) on the calibrated defaults; writes
DIR/evidence.json (rows: target, role, source, published, published_ci,
simulated, simulated_ci, within) and DIR/evidence.md (DIR: outputs/evidence).
Within: the 95% interval of simulated - published contains 0. posterior=DIR
runs it for draws=20 parameter sets of DIR/posterior.parquet and reports their
coverage of the held-out targets: `peerwell validate evidence --help`.

models and defaults (each parameter's meaning: validate model=MODEL --help):
{models}
every model also takes: seed=3 replicates=1 output_dir=outputs/validation/MODEL
"""

CALIBRATE_USAGE = """usage: peerwell calibrate [replicates=4] [seed=1] [n_jobs=-1] [output_dir=DIR]
                          [key=value ...]
       peerwell calibrate fit=true [budget=40] [starts=2] [fit_replicates=2]
       peerwell calibrate config=DIR/scenario/calibrated.yaml
       peerwell calibrate method=morris [trajectories=10] [docs=FILE]
       peerwell calibrate method=abc [budget=default|small|N] [population=N]
                          [launcher=dask address=tcp://HOST:8786]

Runs the calibration scenarios (baseline, offline_only, moderated_community)
with replicates and reports every empirical anchor the model can express: the
target, its source, the simulated value with its 95% CI, and whether it is
within tolerance; writes DIR/calibration.json and calibration.md (DIR:
outputs/calibration). key=value parameters (population.size=3000, steps=365)
apply to every calibration scenario; config=FILE those of a scenario file.

fit=true fits {free}
to the anchors with scipy.optimize.least_squares within budget= evaluations
(each: fit_replicates runs of baseline and moderated_community); writes
DIR/fit.json and DIR/scenario/calibrated.yaml, runnable as
    peerwell run --config-dir DIR scenario=calibrated

method=morris screens every prior of conf/evidence/priors.yaml (Morris, SALib)
on the calibration targets and the main contrasts; writes DIR/screen.csv (the
parameters selected, and which ABC fits) and screen.md.

method=abc fits the screened parameters to the calibration targets (never the
held-out ones) by ABC-SMC (pyabc): budget= evaluations in all (small: 300,
default: 6000, about 40 min on two cores), population= particles per
generation. Writes DIR/posterior.parquet (a column per parameter, weight),
posterior.csv, ppc.csv, diagnostics.json, abc.md, figures/ and abc.db (the same
command resumes it). n_jobs=-1 all cores, 1 one process (reproducible to the
bit); launcher=dask address=... on the Dask cluster of hydra/launcher=dask.
"""

EVIDENCE_USAGE = """usage: peerwell validate evidence [replicates=6] [seed=1] [n_jobs=-1]
           [output_dir=DIR] [docs=docs/evidence.md] [group.name=value ...]
       peerwell validate evidence posterior=DIR [draws=20] [replicates=1] [...]

Runs every target of conf/evidence/targets.yaml (calibration and held-out,
virtual trials included) on the calibrated defaults and the overrides given;
writes DIR/evidence.json (rows: target, role, source, published, published_ci,
simulated, simulated_ci, within) and DIR/evidence.md (DIR: outputs/evidence).
Within: the 95% interval of simulated - published contains 0. docs=PATH also
rewrites the docs page (docs/evidence.md).

posterior=DIR (a folder holding posterior.parquet, or the file itself: a column
per parameter and weight, as `peerwell calibrate method=abc` writes) draws
draws=20 parameter sets from it by weight (seed=) and runs the evidence for
each, after the overrides given, with replicates=1 each by default. Per target:
the predictive mean and 95% posterior predictive interval (the 2.5%/97.5%
quantiles of the draws' values; with few replicates it carries Monte Carlo
noise as well as the parameters' uncertainty) and covered: the published value
lies inside it. Prints "Held out: k of n covered"; evidence.json gains
posterior (path, sha256, draws, rows) and per row predictive_mean,
predictive_interval and covered; DIR/evidence_draws.csv (draw, row, target,
value) is rewritten after every draw, and a rerun with the same posterior,
draws, seed, replicates and overrides reuses the draws already in it.
"""

VALIDATE_ALL_KEYS = {"seed", "scale", "output_dir", "docs", "calibration_replicates"}
CALIBRATE_KEYS = {
    "replicates": (int, "an integer"),
    "seed": (int, "an integer"),
    "n_jobs": (int, "an integer (-1: all cores)"),
    "output_dir": (str, "a folder"),
    "fit": (V._bool, "true or false"),
    "budget": (int, "an integer (model evaluations)"),
    "method": (str, "least_squares, abc or morris"),
    "starts": (int, "an integer (starting points of the local search)"),
    "fit_replicates": (int, "an integer"),
    "config": (str, "a scenario YAML file"),
}


def _models_help(detail: str | None = None) -> str:
    """Each model with its parameters' defaults, wrapped to 80 columns; ``detail``: that model's
    parameters one per line with their meaning."""
    import textwrap

    lines = []
    for name, vm in V.MODELS.items():
        if detail is not None and name != detail:
            continue
        lines.append(f"  {name:8s} {vm.title}")
        if detail is not None:
            lines += [f"      {key}={k.default}  {k.help}" for key, k in vm.keys.items()]
            continue
        keys = " ".join(f"{key}={k.default}" for key, k in vm.keys.items())
        lines += textwrap.wrap(keys, 80, initial_indent=" " * 11, subsequent_indent=" " * 11)
    return "\n".join(lines)


def _pairs(args: list[str], usage: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for arg in args:
        if "=" not in arg:
            fail(f"expected key=value, got {arg!r}\n\n{usage}")
        key, value = arg.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _print_result(res: dict) -> None:
    table = Table(
        title=f"peerwell validate {res['model']}: {res['label']}, N = "
        f"{res['params'].get('population.size')} ({res['seconds']} s)\n{res['quantity']}"
    )
    cols = ("simulated", "analytic (exact)", "classic", "|difference|", "tolerance", "within")
    for col in cols:
        table.add_column(col, justify="right")
    key = res["key"]
    table.add_row(
        A.fmt(res["simulated"][key], 6),
        A.fmt(res["analytic"][key], 6),
        A.fmt(res["analytic"].get("classic"), 6),
        A.fmt(res["difference"]),
        A.fmt(res["tolerance"]),
        "yes" if res["within_tolerance"] else "[bold red]NO[/]",
    )
    Console().print(table)
    if "expected_textbook" in res:  # SIS, SISa: the textbook, the daily map and the step limit
        lo, hi = res["simulated_ci"]
        print(
            f"expected_textbook {res['expected_textbook']:.6f}  expected_discrete "
            f"{res['expected_discrete']:.6f}  simulated {res['simulated'][key]:.6f} "
            f"[{lo:.6f}, {hi:.6f}]  within (discrete): {'yes' if res['within'] else 'NO'}  "
            f"textbook within: {'yes' if res['textbook_within'] else 'no'}"
        )
        steps = ", ".join(
            f"h={r['step']:g}: {r['discrete']:.5f} ({r['gap']:+.1e})"
            for r in res["analytic"]["step_limit"]
        )
        print(f"daily map with the step shrunk (every rate × h) → textbook: {steps}")
    print(f"tolerance: {res['tolerance_basis']}")
    for note in res["notes"]:
        print(f"note: {note}")


def _dump(obj: dict, path: Path) -> None:
    from peerwell.scenarios.evidence import calibrate as C

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, default=C._json, allow_nan=True) + "\n")


def validate_command(args: list[str]) -> int:
    """`peerwell validate`: one classic model, or the whole table."""
    usage = VALIDATE_USAGE.format(models=_models_help())
    if any(a in ("-h", "--help", "help") for a in args):
        asked = [a.split("=", 1)[1] for a in args if a.startswith("model=")]
        if "evidence" in args:
            print(EVIDENCE_USAGE)
        elif asked and asked[0] in V.MODELS:
            print(_models_help(asked[0]))
        else:
            print(usage)
        return 0
    positional = [a for a in args if "=" not in a]
    pairs = _pairs([a for a in args if "=" in a], usage)
    model = pairs.pop("model", None)
    if positional:
        if positional not in (["all"], ["evidence"]) or model is not None:
            fail(
                f"unexpected argument(s) {positional}; give model=MODEL, `all` or `evidence`"
                f"\n\n{usage}"
            )
        if positional == ["evidence"]:
            return _validate_evidence(
                pairs, "peerwell validate " + " ".join(shlex.quote(a) for a in args)
            )
        model = "all"
    if model is None:
        fail(f"give model=MODEL (one of {', '.join(V.MODELS)}) or `all`\n\n{usage}")
    try:
        if model == "all":
            return _validate_all(
                pairs, "peerwell validate " + " ".join(shlex.quote(a) for a in args)
            )
        out = Path(pairs.pop("output_dir", f"outputs/validation/{model}"))
        res = V.validate_model(model, pairs)
        _print_result(res)
        _dump(res, out / "validation.json")
        A.PLOTTERS[model]([res], out / "validation.png")
        print(f"wrote {out}/validation.json, validation.png")
        return 0 if res["within_tolerance"] else 1
    except PeerwellError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write results: {exc.strerror or exc}")
    return 0


def _validate_all(pairs: dict[str, str], command: str) -> int:
    unknown = set(pairs) - VALIDATE_ALL_KEYS
    if unknown:
        fail(
            f"`peerwell validate all` takes no {sorted(unknown)}; "
            f"it takes: {', '.join(sorted(VALIDATE_ALL_KEYS))}"
        )
    try:
        seed = int(pairs.get("seed", 3))
        scale = float(pairs.get("scale", 1.0))
        cal_reps = int(pairs.get("calibration_replicates", 4))
    except ValueError as exc:
        fail(f"bad number: {exc}")
    if not 0 < scale <= 10:
        fail(f"scale={scale}: give a factor in (0, 10]")
    docs = Path(pairs["docs"]) if "docs" in pairs else None
    default = docs.parent / docs.stem if docs is not None else Path("outputs/validation")
    out = Path(pairs.get("output_dir", default))
    results = V.validate_all({"seed": seed}, scale=scale)
    # The page links its figures: with docs=, they go beside it (docs/validation/figures) wherever
    # output_dir puts the data, so the page never points into a scratch folder.
    figs = V.figures(results, (default if docs is not None else out) / "figures")
    table = [V.strip_trajectories(r) for r in results]
    _dump({"command": command, "results": table}, out / "validation.json")
    failed = [f"{r['model']} {r['label']}" for r in results if not r["within_tolerance"]]
    if docs is None:
        rel = {k: Path(p).relative_to(out).as_posix() for k, p in figs.items()}
        (out / "validation.md").write_text(V.report_markdown(table, rel, command=command))
        print(
            f"wrote {out}/validation.json, validation.md and {len(figs)} figures in {out}/figures"
        )
    else:
        from peerwell.scenarios.evidence import calibrate as C

        cal = C.calibrate([], replicates=cal_reps, seed=1)
        _dump(cal, out / "calibration.json")
        rel = {k: Path(os.path.relpath(p, docs.parent)).as_posix() for k, p in figs.items()}
        docs.write_text(V.docs_markdown(table, rel, cal, command=command))
        print(
            f"wrote {docs}, with {len(figs)} figures and the data in {out} "
            f"(calibration: {len(cal['outside'])} anchor(s) outside tolerance)"
        )
    if failed:
        print(f"outside tolerance: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


EVIDENCE_KEYS = {
    "replicates": (int, "an integer (at least 1)"),
    "seed": (int, "an integer"),
    "n_jobs": (int, "an integer (-1: all cores)"),
    "output_dir": (str, "a folder"),
    "docs": (str, "a Markdown file (docs/evidence.md)"),
    "posterior": (str, "a posterior.parquet or the folder holding it"),
    "draws": (int, "an integer (at least 1)"),
}


def _validate_evidence(pairs: dict[str, str], command: str) -> int:
    """`peerwell validate evidence`: every target of conf/evidence/targets.yaml, with its role."""
    from peerwell.scenarios.evidence import evidence as E

    opts, overrides = options_and_overrides(pairs, EVIDENCE_KEYS, "validate evidence")
    if opts.get("replicates", 1) < 1:
        fail(f"replicates={opts['replicates']}: give at least 1")
    if "draws" in opts and "posterior" not in opts:
        fail(f"draws={opts['draws']}: draws are taken from a posterior; give posterior=DIR too")
    if opts.get("draws", 1) < 1:
        fail(f"draws={opts['draws']}: give at least 1")
    out = Path(opts.get("output_dir", "outputs/evidence"))
    try:
        if "posterior" in opts:
            result = E.run_posterior(
                overrides,
                opts["posterior"],
                draws=opts.get("draws", 20),
                replicates=opts.get("replicates", 1),
                seed=opts.get("seed", 1),
                n_jobs=opts.get("n_jobs", -1),
                out_dir=out,
            )
        else:
            result = E.run_evidence(
                overrides,
                replicates=opts.get("replicates", 6),
                seed=opts.get("seed", 1),
                n_jobs=opts.get("n_jobs", -1),
            )
        E.write(result, out, command)
        if "docs" in opts:
            Path(opts["docs"]).write_text(E.docs_markdown(result, command))
    except PeerwellError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write results: {exc.strerror or exc}")
    _print_evidence(result)
    print(
        f"wrote {out}/evidence.json, evidence.md"
        + (f", {E.DRAWS_FILE}" if "posterior" in opts else "")
        + (f" and {opts['docs']}" if "docs" in opts else "")
    )
    return 0  # a held-out target outside is a finding about the model, not a failed command


def _print_evidence(result: dict) -> None:
    from peerwell.scenarios.evidence import evidence as E

    cfg = result["config"]
    post = "posterior" in result
    draws = f"{cfg['draws']} posterior draws × " if post else ""
    table = Table(
        title=f"peerwell validate evidence: N = {cfg['population.size']}, "
        f"{draws}{cfg['replicates']} replicates (seed {result['seed']})"
    )
    cols = ["target", "role", "published (95% CI)"]
    cols += (
        ["predictive [95% PI]", "within", "covered"] if post else ["simulated (95% CI)", "within"]
    )
    for col in cols:
        table.add_column(col, justify="left" if col in ("target", "role") else "right")
    for r in result["rows"]:
        status = {True: "yes", False: "[bold red]no[/]", None: "not run"}[r["within"]]
        cells = [
            r["target"], r["role"], f"{E._fmt(r['published'])} {E._ci(r['published_ci'])}",
            f"{E._fmt(r['simulated'])} {E._ci(r['simulated_ci'])}", status,
        ]  # fmt: skip
        if post:
            cells.append({True: "yes", False: "[bold red]no[/]", None: "—"}[r["covered"]])
        table.add_row(*cells)
    Console().print(table)
    held = [r for r in result["rows"] if r["role"] == "held_out"]
    print(
        f"held out: {sum(bool(r['within']) for r in held)} within, "
        f"{sum(r['within'] is False for r in held)} outside, "
        f"{sum(r['within'] is None for r in held)} not run (of {len(held)})"
    )
    if post:
        print(E.coverage_line(result))
        print(E.coverage_line(result, "calibration"))


def _print_calibration(rows: list[dict], title: str) -> None:
    from peerwell.scenarios.evidence import calibrate as C

    table = Table(title=title)
    for col in ("anchor", "target", "tolerance", "simulated (95% CI)", "status"):
        table.add_column(col, justify="left" if col == "anchor" else "right")
    for r in rows:
        sim = f"{C._value_text(r, 'simulated')} ({C._value_text(r, 'ci_low')} – {C._value_text(r, 'ci_high')})"
        status = r["status"] if r["within"] is not False else f"[bold red]{r['status']}[/]"
        table.add_row(r["id"], r["target_text"], r["tolerance"], sim, status)
    Console().print(table)


def calibrate_command(args: list[str]) -> int:
    """`peerwell calibrate`: the anchor report, and with fit=true a fit of the free parameters."""
    from peerwell.scenarios.evidence import calibrate as C

    free = textwrap.fill(
        ", ".join(f.name for f in C.FIT_PARAMS), 80, initial_indent="fit=true fits "
    )
    usage = CALIBRATE_USAGE.format(free=free[len("fit=true fits ") :])
    if any(a in ("-h", "--help", "help") for a in args):
        print(usage)
        return 0
    pairs = _pairs(args, usage)
    method = pairs.get("method", "least_squares")
    if method != "least_squares":  # Bayesian calibration and the screen: their own options
        from peerwell.scenarios.cli.uncertainty import run_method

        return run_method(method, pairs, "peerwell calibrate " + " ".join(args))
    pairs.pop("method", None)
    opts, overrides = options_and_overrides(
        pairs, CALIBRATE_KEYS, "calibrate", ("steps", "record_every", "network")
    )
    out = Path(opts.get("output_dir", "outputs/calibration"))
    try:
        if "config" in opts:
            overrides = C.overrides_from_file(opts["config"]) + overrides
        if opts.get("fit"):
            fitted = C.fit(
                overrides,
                replicates=opts.get("fit_replicates", 2),
                seed=opts.get("seed", 1),
                budget=opts.get("budget", 40),
                starts=opts.get("starts", 2),
                n_jobs=opts.get("n_jobs", -1),
            )
            path = C.write_fit(fitted, out, command="peerwell calibrate " + " ".join(args))
            _print_fit(fitted)
            print(f"wrote {out}/fit.json and {path}")
            print(f"run it: peerwell run --config-dir {out.resolve()} scenario=calibrated")
            overrides = overrides + [f"{k}={v:.10g}" for k, v in fitted["values"].items()]
        result = C.calibrate(
            overrides,
            replicates=opts.get("replicates", 4),
            seed=opts.get("seed", 1),
            n_jobs=opts.get("n_jobs", -1),
        )
        C.write_report(
            result, out, title="Calibration" + (" at the fitted values" if opts.get("fit") else "")
        )
    except PeerwellError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write results: {exc.strerror or exc}")
    _print_calibration(result["rows"], f"peerwell calibrate: {len(result['seeds'])} replicates, "
                       f"N = {result['population_size']}, {result['steps']} days ({result['seconds']} s)")  # fmt: skip
    print(f"wrote {out}/calibration.json, calibration.md")
    if result["outside"]:
        print(f"outside tolerance: {', '.join(result['outside'])}", file=sys.stderr)
        return 1
    return 0


def _print_fit(fitted: dict) -> None:
    table = Table(
        title=f"fit: {fitted['evaluations']} evaluations, cost {fitted['cost_start']:.3f} → {fitted['cost_fitted']:.3f}"
    )
    for col in ("parameter", "start", "fitted", "± SE"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for name, v in fitted["values"].items():
        sd = fitted["sd"][name]
        table.add_row(
            name,
            f"{fitted['start'][name]:.4g}",
            f"{v:.4g}",
            "—" if not math.isfinite(sd) else f"{sd:.2g}",
        )
    Console().print(table)
    print(fitted["message"])


COMMANDS = {
    "validate": (
        "kernels vs classic models: peerwell validate model=sir r0=1.8 output_dir=/abs/path (or `all`)",
        validate_command,
    ),
    "calibrate": (
        "baseline vs the empirical anchors (fit=true fits free parameters)",
        calibrate_command,
    ),
}
