"""Sub-commands `sweep`, `collect` and `sensitivity` of the `peerwell` command.

The commands' edge: their help, their printed summaries and their errors as "peerwell: error:"
lines with exit codes. The work is the engine's (``experiments.sweep.run_sweep`` and
``plan_sensitivity``): it checks the command line (unknown parameter names, empty ranges, design
options, sample counts SALib rejects) before Hydra starts, adds ``-m`` and, for a sampled design,
the ``design_chunk=range(0,N)`` sweep that hands each job its share of the design points; the
Hydra app then validates every run's values (see ``sweep.SweepCallback``) before any job starts,
and runs them in a few batch jobs (``sweep._batched_sweep``)."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from peerwell.scenarios.cli.core import fail, report_error
from peerwell.scenarios.experiments import design as dz
from peerwell.scenarios.experiments.sweep import (
    RUN_WRITE_LOCK,
    SA_KEYS,
    STOP_BETWEEN_RUNS,
    SweepConfig,
    command_started,
    plan_sensitivity,
    run_sweep,
    stop_workers,
)
from peerwell.simulation.errors import PeerwellError


def sweep_help() -> str:
    """`peerwell sweep --help`: what a sweep writes, where, and its defaults, in one screen.

    Hydra's own help (about 190 lines of config) stays one command away: ``--hydra-help`` and
    ``--cfg job``. The defaults are read from the schema and the design module.
    """
    d = SweepConfig()
    samples = ", ".join(f"{k} {v}" for k, v in dz.DEFAULT_SAMPLES.items())
    return f"""usage: peerwell sweep -m KEY=A,B,C [KEY=range(1,11) ...] [key=value ...]
         [hydra.sweep.dir=DIR] [hydra/launcher=joblib|submitit_local|slurm|dask]
       peerwell sweep design=lhs|random|morris|sobol [samples=N] [params=[...]]

Runs every combination of the listed values (a grid; or a sampled design) and
writes each run once into a resumable store:
  DIR/runs/<run_id>.parquet  one run's trajectories (+ .json: config, seed, ...)
  DIR/sweep.json             the plan: overrides, swept keys, run_ids, designs
  DIR/design.csv             a sampled design's points
  DIR/jobs/, multirun.yaml   Hydra's record of the jobs
Gather them with `peerwell collect DIR` (one table, optional heatmap).

Where: DIR is hydra.sweep.dir, by default
  multirun/<scenario>/sweep-<hash of the overrides>
The same command again resumes its own store (finished runs are reused, even
after kill -9); another sweep gets a folder of its own. Give two commands the
same DIR to extend one sweep with more values.

Defaults: scenario=baseline network=sbm seed=42 (sweep: seed=range(1,11));
launcher joblib on every core, {d.threads} Numba thread per run, batches={d.batches} (one
per worker); design={d.design}; levels={d.levels} (Morris); design_seed={d.design_seed}.
samples=0 means {samples}
(Morris runs samples x (params+1), Sobol samples x (params+2)).

Examples:
  peerwell sweep -m communities.moderation=0,0.5,1 seed=range(1,11)
  peerwell sweep design=lhs samples=200 params=[communities.moderation:0:1]
  peerwell sweep -m seed=range(1,101) hydra/launcher=slurm hydra.sweep.dir=/abs
  peerwell sensitivity method=sobol outcome=care_seeking_share

A value is refused before any run starts: "peerwell: error: ..." on stderr,
exit code 2. Ctrl-C exits 130; rerun the same command to resume.
More: docs/sweeps.md, docs/reference/cli.md, --hydra-help, --cfg job."""


def sweep_command(args: list[str]) -> int:
    """`peerwell sweep`: run a Hydra multirun of the model into a resumable store."""
    if any(a in ("-h", "--help", "help") for a in args):
        print(sweep_help())
        return 0
    # The clock of the summary of where the time went; a `peerwell` process's own age is the
    # driver's start-up (not so when a program runs the command in its own process).
    fresh_process = Path(sys.argv[0]).name == "peerwell"
    command_started(fresh_process)
    try:
        outcome = run_sweep(args, notify=_note)
    except KeyboardInterrupt:
        # Finished runs are in the store, which the same command resumes from; Python's
        # traceback through Hydra and joblib (about 170 lines) would say none of that.
        _stop_workers()
        fail("interrupted; run the same command again to resume", 130)
    except Exception as exc:
        report_error(exc)
    if outcome is not None:
        print(outcome.report(), flush=True)
    if fresh_process:
        # The sweep is over and its workers idle: stopping them now spares the process's exit
        # waiting for each to wind down (about 0.4 s). A program running the command in its own
        # process keeps them, warm, for its next sweep.
        _stop_workers()
    return 0


def _note(message: str) -> None:
    print(f"peerwell: {message}", file=sys.stderr, flush=True)


def _stop_workers() -> None:
    """:func:`stop_workers`, which is a courtesy: it never hides the message that follows."""
    try:
        stop_workers()
    except Exception as exc:
        print(f"peerwell: could not stop every worker: {exc}", file=sys.stderr)


class OrphanWatchdog(Callback):
    """In a joblib (loky) worker of a sweep: end the worker once the sweep's driver has died.

    When the driver is killed (SIGKILL), loky's workers are orphaned; one can block forever
    reading the dead driver's task pipe (measured: still alive 40 minutes later). The worker's
    parent is the driver, so a changed parent pid means the driver is gone. Ending a process is
    the command's business, not the engine's, hence here; ``conf/sweep.yaml`` names it among the
    sweep's callbacks, so every sweep (the command's, the API's) has it in its workers.
    """

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        _watch_the_driver()


_WATCHDOG: list[threading.Thread] = []  # at most one per worker process


def _watch_the_driver() -> None:
    if _WATCHDOG or not mp.current_process().name.startswith("LokyProcess"):
        return
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                STOP_BETWEEN_RUNS.set()  # a batch job stops before its next run
                with RUN_WRITE_LOCK:  # let the run being written finish its atomic write
                    os._exit(0)

    thread = threading.Thread(target=watch, name="peerwell-orphan-watchdog", daemon=True)
    _WATCHDOG.append(thread)
    thread.start()


# ---------------------------------------------------------------------------------------------


def _key_values(args: list[str], allowed: dict[str, str], command: str) -> dict[str, str]:
    out = {}
    for a in args:
        key, sep, value = a.partition("=")
        if not sep or key not in allowed:
            known = ", ".join(f"{k}= ({v})" for k, v in allowed.items())
            fail(f"peerwell {command}: cannot use {a!r}; it takes {known}")
        out[key] = value
    return out


COLLECT_KEYS = {
    "heatmap": "two swept parameters, x,y",
    "outcome": "outcome column of the heatmap, default care_seeking_share",
    "step": "day of the heatmap, default the last",
    "mixed": "true: merge runs of different sweep designs in one folder (refused by default)",
}
COLLECT_HELP = (
    "Gathers every finished run of a sweep folder into SWEEP_DIR/collected.parquet and .csv (one "
    "row per run and recorded day, the swept values as columns); a damaged run file is reported "
    "by name and left out. heatmap=X,Y also draws the outcome over two swept parameters."
)
SENSITIVITY_HELP = (
    "Samples the declared parameters with SALib (Morris elementary effects or Saltelli/Sobol), "
    "runs the samples as a resumable sweep, and writes sensitivity.csv and a figure. Every other "
    "key=value is a model override or a sweep option (params=[...], samples=N, seed=1,2,3, "
    "hydra/launcher=submitit_local); see docs/sweeps.md."
)


def _help(usage: str, keys: dict[str, str], text: str) -> str:
    lines = [f"usage: peerwell {usage} [key=value ...]", "", text, "", "keys:"]
    lines += [f"  {k:<12} {v}" for k, v in keys.items()]
    return "\n".join(lines)


def collect_command(args: list[str]) -> int:
    """`peerwell collect SWEEP_DIR [heatmap=X,Y] [outcome=NAME] [step=DAY]`."""
    from peerwell.scenarios.experiments.collect import collect, write_collected

    if any(a in ("-h", "--help", "help") for a in args):
        print(_help("collect SWEEP_DIR", COLLECT_KEYS, COLLECT_HELP))
        return 0
    if not args or "=" in args[0]:
        fail("usage: peerwell collect SWEEP_DIR [heatmap=PARAM_X,PARAM_Y] [outcome=NAME]")
    sweep_dir = Path(args[0])
    opts = _key_values(args[1:], COLLECT_KEYS, "collect")
    mixed = opts.get("mixed", "false").lower()
    if mixed not in ("true", "false"):
        fail(f"mixed={opts['mixed']}: give mixed=true or mixed=false")
    try:
        result = collect(sweep_dir, mixed=mixed == "true")
        pq_path, csv_path = write_collected(result, sweep_dir)
    except PeerwellError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write into {sweep_dir}: {exc.strerror or exc}")
    for name, reason in result.skipped:
        Console(stderr=True, soft_wrap=True).print(
            f"[yellow]peerwell: skipped {name}[/]: {reason}", highlight=False, markup=True
        )
    print(
        f"collected {result.runs} runs, {len(result.table)} rows "
        f"(swept: {', '.join(result.swept) or 'nothing besides seed/scenario'}) into {pq_path} "
        f"and {csv_path}"
        + (f"; skipped {len(result.skipped)} unreadable run files" if result.skipped else "")
    )
    numeric = [c for c in result.swept if _is_numeric(result.table[c])]
    pair = None
    if "heatmap" in opts:
        pair = [p.strip() for p in opts["heatmap"].split(",")]
        if len(pair) != 2 or not all(pair):
            fail(f"heatmap={opts['heatmap']}: give two swept parameters, heatmap=X,Y")
        for p in pair:
            if p not in result.table.columns:
                fail(f"heatmap: {p!r} is not a column of the collected table; swept: {numeric}")
    elif len(numeric) == 2 and result.table["scenario"].nunique() == 1:
        pair = numeric  # a two-parameter sweep gets its map without asking
    if pair:
        # seaborn and scipy.stats (about 2 s): only for a sweep that gets its map.
        from peerwell.analysis.heatmap import horizon_grid, plot_heatmap

        outcome = opts.get("outcome", "care_seeking_share")
        if outcome not in result.table.columns:
            fail(f"outcome={outcome!r} is not a column of the collected table")
        step = None
        if "step" in opts:
            try:
                step = int(opts["step"])
            except ValueError:
                fail(f"step={opts['step']!r} must be a whole day number")
        try:
            grid = horizon_grid(result.table, pair[0], pair[1], outcome, step=step)
        except (KeyError, ValueError) as exc:
            fail(str(exc).strip("'\""))
        base = sweep_dir / f"heatmap_{outcome}"
        png = plot_heatmap(
            grid,
            base,
            outcome=outcome,
            x=pair[0],
            y=pair[1],
            step_label=f"day {step}" if step is not None else "",
        )
        grid.to_csv(base.with_suffix(".csv"))
        print(f"heatmap of {outcome} over {pair[0]} × {pair[1]}: {png} (and .svg, .csv)")
    return 0


def _is_numeric(series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


# ---------------------------------------------------------------------------------------------


def _sensitivity_budget() -> str:
    """The default sample counts and the runs they make, which decide how long it takes."""
    from peerwell.scenarios.experiments.hooks import DEFAULT_PARAMS

    k = len(DEFAULT_PARAMS)
    morris, sobol = dz.DEFAULT_SAMPLES["morris"], dz.DEFAULT_SAMPLES["sobol"]
    return (
        f"\n\nRuns (one per design point and seed; default seed: one): samples=N sets the budget. "
        f"method=morris takes N trajectories (default {morris}) of k+1 points; method=sobol N "
        f"(a power of two, default {sobol}) times k+2 points (2k+2 with second_order=true). "
        f"With the default k={k} parameters: {morris * (k + 1)} runs for morris and "
        f"{sobol * (k + 2)} for sobol. Writes OUTPUT_DIR/sensitivity.csv, sensitivity.png and "
        ".svg, and the sweep's runs/."
    )


def sensitivity_command(args: list[str]) -> int:
    """`peerwell sensitivity method=morris|sobol [params=[...]] [outcome=...] [samples=N] ...`."""
    from peerwell.scenarios.experiments.sensitivity import analyze_sweep

    if any(a in ("-h", "--help", "help") for a in args):
        text = SENSITIVITY_HELP + _sensitivity_budget()
        print(_help("sensitivity method=morris|sobol", SA_KEYS, text))
        return 0
    try:
        plan = plan_sensitivity(args)
    except PeerwellError as exc:
        fail(str(exc))
    sweep_command(plan.sweep_args)
    try:
        result = analyze_sweep(plan.output_dir, plan.outcome, conf_level=plan.conf_level)
    except PeerwellError as exc:
        fail(str(exc))
    _print_indices(result.table, plan.method, plan.outcome)
    print(
        f"wrote {result.csv} ({len(result.table)} parameters, {result.n_runs} runs) and "
        f"{result.figure} (and .svg)"
    )
    return 0


def _print_indices(table, method: str, outcome: str) -> None:
    cols = (
        ["rank", "parameter", "mu_star", "mu_star_conf", "sigma"]
        if method == "morris"
        else ["rank", "parameter", "S1", "S1_conf", "ST", "ST_conf"]
    )
    t = Table(title=f"{method} sensitivity of {outcome} at the horizon")
    for c in cols:
        t.add_column(c, justify="left" if c == "parameter" else "right")
    for row in table[cols].itertuples(index=False):
        t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    Console().print(t)


COMMANDS = {
    "sweep": (
        "parameter sweep (Hydra multirun, resumable): peerwell sweep -m "
        "communities.moderation=0,0.5,1 seed=range(1,11) hydra.sweep.dir=/abs/path "
        "(or design=lhs samples=200 params=[...])",
        sweep_command,
    ),
    "collect": (
        "gather a sweep into SWEEP_DIR/collected.parquet and .csv: peerwell collect SWEEP_DIR "
        "[heatmap=X,Y outcome=...]",
        collect_command,
    ),
    "sensitivity": (
        "Morris/Sobol' sensitivity (SALib): peerwell sensitivity method=morris "
        "outcome=care_seeking_share output_dir=/abs/path",
        sensitivity_command,
    ),
}
